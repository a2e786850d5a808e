#include "models/kernels/attention_kernel.h"

#include <cmath>
#include <vector>

#include "models/cpu_math.h"

namespace ddpm::kernels {

namespace {

// One (sample, head): q_i, k_i, v_i are `d` floats at q + i·stride (k, v likewise).
struct AttentionRows {
  const float* q;
  const float* k;
  const float* v;
  int64_t stride;  ///< floats from one row of q (k, v) to the next
  int64_t n;       ///< tokens N
  int64_t d;       ///< channels per head
  float scale;
};

/// dst[c·n + j] = src[j·stride + c]: rows of d channels into d columns of n contiguous floats, so
/// the per-row loops below run over j with unit stride.
void transpose_rows(const float* src, int64_t stride, int64_t n, int64_t d, float* dst) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < d; ++c) dst[c * n + j] = src[j * stride + c];
}

/// s_j = scale · q_i·k_j for all j, from Kᵀ [d, n].
DDPM_CPU_CLONES
void scores_row(const float* q_i, const float* k_t, int64_t n, int64_t d, float scale, float* s) {
  for (int64_t j = 0; j < n; ++j) s[j] = 0.0f;
  for (int64_t c = 0; c < d; ++c) {
    const float qc = q_i[c] * scale;
    const float* kc = k_t + c * n;
    for (int64_t j = 0; j < n; ++j) s[j] += qc * kc[j];
  }
}

DDPM_CPU_CLONES
float row_max(const float* s, int64_t n) {
  float m = s[0];
#pragma omp simd reduction(max : m)
  for (int64_t j = 1; j < n; ++j) m = s[j] > m ? s[j] : m;
  return m;
}

/// s_j ← exp(s_j − shift); returns Σ_j of the new s.
DDPM_CPU_CLONES
float exp_row(float* s, int64_t n, float shift) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) {
    const float e = cpu::fast_exp(s[j] - shift);
    s[j] = e;
    sum += e;
  }
  return sum;
}

/// Σ_j a_j b_j
DDPM_CPU_CLONES
float dot(const float* a, const float* b, int64_t n) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) sum += a[j] * b[j];
  return sum;
}

/// y_j += a · x_j
DDPM_CPU_CLONES
void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] += a * x[j];
}

int64_t scratch_floats(int64_t n, int64_t d) {
  return 4 * d * n + 2 * n;
}

void head_forward(const AttentionRows& in, float* out, int64_t out_stride, float* lse,
                  float* scratch) {
  const int64_t n = in.n, d = in.d;
  float* k_t = scratch;      // [d, n]
  float* v_t = k_t + d * n;  // [d, n]
  float* s = v_t + d * n;    // [n]
  transpose_rows(in.k, in.stride, n, d, k_t);
  transpose_rows(in.v, in.stride, n, d, v_t);
  for (int64_t i = 0; i < n; ++i) {
    scores_row(in.q + i * in.stride, k_t, n, d, in.scale, s);
    const float m = row_max(s, n);  // softmax shifted by the row maximum
    const float sum = exp_row(s, n, m);
    const float inv = 1.0f / sum;
    float* o = out + i * out_stride;
    for (int64_t c = 0; c < d; ++c) o[c] = dot(s, v_t + c * n, n) * inv;
    if (lse) lse[i] = m + std::log(sum);
  }
}

void head_backward(const AttentionRows& in, const float* lse, const float* d_out,
                   int64_t grad_stride, float* d_q, float* d_k, float* d_v, int64_t grad_in_stride,
                   float* scratch) {
  const int64_t n = in.n, d = in.d;
  float* k_t = scratch;        // Kᵀ  [d, n]
  float* v_t = k_t + d * n;    // Vᵀ  [d, n]
  float* dk_t = v_t + d * n;   // dKᵀ [d, n]
  float* dv_t = dk_t + d * n;  // dVᵀ [d, n]
  float* p = dv_t + d * n;     // P_i  [n]
  float* ds = p + n;           // dP_i, then dS_i  [n]
  transpose_rows(in.k, in.stride, n, d, k_t);
  transpose_rows(in.v, in.stride, n, d, v_t);
  for (int64_t j = 0; j < 2 * d * n; ++j) dk_t[j] = 0.0f;  // dKᵀ and dVᵀ
  for (int64_t i = 0; i < n; ++i) {
    const float* q_i = in.q + i * in.stride;
    const float* do_i = d_out + i * grad_stride;
    scores_row(q_i, k_t, n, d, in.scale, p);
    exp_row(p, n, lse[i]);  // P_i = exp(S_i − lse_i)
    for (int64_t j = 0; j < n; ++j) ds[j] = 0.0f;
    for (int64_t c = 0; c < d; ++c) {
      axpy(do_i[c], p, dv_t + c * n, n);  // dVᵀ[c] += dO_ic P_i
      axpy(do_i[c], v_t + c * n, ds, n);  // dP_i = dO_i Vᵀ
    }
    const float r = dot(p, ds, n);  // rowsum(P ∘ dP): the softmax Jacobian's rank-one part
    for (int64_t j = 0; j < n; ++j) ds[j] = p[j] * (ds[j] - r) * in.scale;
    float* dq_i = d_q + i * grad_in_stride;
    for (int64_t c = 0; c < d; ++c) {
      dq_i[c] = dot(ds, k_t + c * n, n);  // dQ_i = dS_i K
      axpy(q_i[c], ds, dk_t + c * n, n);  // dKᵀ[c] += Q_ic dS_i
    }
  }
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < d; ++c) {
      d_k[j * grad_in_stride + c] = dk_t[c * n + j];
      d_v[j * grad_in_stride + c] = dv_t[c * n + j];
    }
}

/// Where one (sample b, head h) pair lies: its q, k, v rows, the first float of its channels in
/// a [B, N, C] output (out, d_out), and its first lse entry.
struct HeadAt {
  AttentionRows rows;
  int64_t out_offset, lse_offset;
};

/// f(HeadAt, scratch) for every (sample, head) pair, the pairs split across the OpenMP threads,
/// each thread with its own scratch_floats(N, d) floats.
template <typename F>
void for_each_head(const AttentionProblem& p, F&& f) {
  const int64_t C = p.channels, d = C / p.heads, pairs = p.batch * p.heads;
#pragma omp parallel if (pairs > 1)
  {
    std::vector<float> scratch(static_cast<size_t>(scratch_floats(p.tokens, d)));
#pragma omp for schedule(static)
    for (int64_t bh = 0; bh < pairs; ++bh) {
      const int64_t b = bh / p.heads, h = bh % p.heads;
      const float* base = p.qkv + b * p.tokens * 3 * C + h * d;
      const AttentionRows rows{base, base + C, base + 2 * C, 3 * C, p.tokens, d, p.scale};
      f(HeadAt{rows, b * p.tokens * C + h * d, bh * p.tokens}, scratch.data());
    }
  }
}

}  // namespace

void attention_forward(const AttentionProblem& p, float* out, float* lse) {
  for_each_head(p, [&](const HeadAt& at, float* scratch) {
    head_forward(at.rows, out + at.out_offset, p.channels, lse ? lse + at.lse_offset : nullptr,
                 scratch);
  });
}

void attention_backward(const AttentionProblem& p, const float* lse, const float* d_out,
                        float* d_qkv) {
  const int64_t C = p.channels;
  for_each_head(p, [&](const HeadAt& at, float* scratch) {
    // The gradient of q, k, v sits where they sit in qkv.
    float* g = d_qkv + (at.rows.q - p.qkv);
    head_backward(at.rows, lse + at.lse_offset, d_out + at.out_offset, C, g, g + C, g + 2 * C,
                  3 * C, scratch);
  });
}

}  // namespace ddpm::kernels

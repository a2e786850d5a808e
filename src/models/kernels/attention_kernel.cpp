#include "models/kernels/attention_kernel.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "models/cpu_math.h"

namespace ddpm::kernels {

namespace {

// One (sample, head): channel c of token i of q is q[i·stride + c·channel_stride] (k, v
// likewise); channel_stride is 1 in the token-major layout (the backward pass's), N in the
// channel-major one.
struct AttentionRows {
  const float* q;
  const float* k;
  const float* v;
  int64_t stride;  ///< floats from one token of q (k, v) to the next
  int64_t n;       ///< tokens N
  int64_t d;       ///< channels per head
  float scale;
  int64_t channel_stride = 1;  ///< floats from one channel to the next
};

/// Where a head's output goes: channel c of token i at at[i·stride + c·channel_stride].
struct OutRows {
  float* at;
  int64_t stride, channel_stride;
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

/// Queries handled together by query_block_forward, one per lane of its vectors.
constexpr int kQueryLanes = 8;

int64_t scratch_floats(int64_t n, int64_t d) {
  return std::max<int64_t>(4 * d * n + 2 * n, kQueryLanes * n);  // the backward's, the forward's
}

/// Queries i0 .. i0 + 7 of one (sample, head), each in one lane of every vector, so that every
/// step is a vertical multiply-add with a key's or value's channel broadcast (no horizontal sums):
/// S[j] = scale · Q_block k_j, the row maxima and sums lane by lane, O[c] = Σ_j P[j] v_jc.
/// Lanes past the last query (i0 + lane ≥ n) compute on zeros and are not stored. `s` holds
/// n · kQueryLanes floats.
DDPM_CPU_CLONES
void query_block_forward(const AttentionRows& in, int64_t i0, const OutRows& out, float* lse,
                         float* s) {
  using lanes = float __attribute__((vector_size(kQueryLanes * sizeof(float))));
  using lanes_in_s = float __attribute__((vector_size(kQueryLanes * sizeof(float)), aligned(4)));
  constexpr int L = kQueryLanes;
  const int64_t n = in.n, d = in.d, ts = in.stride, cs = in.channel_stride;
  const int rows = int(std::min<int64_t>(L, n - i0));
  lanes qt[kMaxHeadDim];  // the block's queries, scaled, transposed: qt[c][lane]
  for (int64_t c = 0; c < d; ++c)
    for (int l = 0; l < L; ++l) qt[c][l] = l < rows ? in.q[(i0 + l) * ts + c * cs] * in.scale : 0;
  lanes m = lanes{} - std::numeric_limits<float>::infinity();
  lanes_in_s* sv = reinterpret_cast<lanes_in_s*>(s);
  // Four keys at a time: four independent chains of multiply-adds, qt[c] loaded once for four.
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const float* k_j = in.k + j * ts;
    lanes a0{}, a1{}, a2{}, a3{};
    for (int64_t c = 0; c < d; ++c) {
      const float* k_c = k_j + c * cs;
      a0 += qt[c] * k_c[0];
      a1 += qt[c] * k_c[ts];
      a2 += qt[c] * k_c[2 * ts];
      a3 += qt[c] * k_c[3 * ts];
    }
    sv[j] = a0, sv[j + 1] = a1, sv[j + 2] = a2, sv[j + 3] = a3;
  }
  for (; j < n; ++j) {
    const float* k_j = in.k + j * ts;
    lanes a{};
    for (int64_t c = 0; c < d; ++c) a += qt[c] * k_j[c * cs];
    sv[j] = a;
  }
  for (j = 0; j < n; ++j) m = sv[j] > m ? sv[j] : m;  // softmax shifted by the row maximum
  float sum[L] = {};
  for (j = 0; j < n; ++j)
#pragma omp simd
    for (int l = 0; l < L; ++l) {
      const float e = cpu::fast_exp(s[j * L + l] - m[l]);
      s[j * L + l] = e;
      sum[l] += e;
    }
  // O[c] = Σ_j P[j] v_jc four channels at a time, each sum in a register through all keys.
  lanes o[kMaxHeadDim];
  int64_t c = 0;
  for (; c + 4 <= d; c += 4) {
    lanes o0{}, o1{}, o2{}, o3{};
    for (int64_t jj = 0; jj < n; ++jj) {
      const float* v_j = in.v + jj * ts + c * cs;
      const lanes p = sv[jj];
      o0 += p * v_j[0], o1 += p * v_j[cs], o2 += p * v_j[2 * cs], o3 += p * v_j[3 * cs];
    }
    o[c] = o0, o[c + 1] = o1, o[c + 2] = o2, o[c + 3] = o3;
  }
  for (; c < d; ++c) {
    lanes oc{};
    for (int64_t jj = 0; jj < n; ++jj) oc += sv[jj] * in.v[jj * ts + c * cs];
    o[c] = oc;
  }
  for (int l = 0; l < rows; ++l) {
    const float inv = 1.0f / sum[l];
    float* o_i = out.at + (i0 + l) * out.stride;
    for (c = 0; c < d; ++c) o_i[c * out.channel_stride] = o[c][l] * inv;
    if (lse) lse[i0 + l] = m[l] + std::log(sum[l]);
  }
}

void head_forward(const AttentionRows& in, const OutRows& out, float* lse, float* scratch) {
  for (int64_t i0 = 0; i0 < in.n; i0 += kQueryLanes) query_block_forward(in, i0, out, lse, scratch);
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
  const int64_t C = p.channels, N = p.tokens, d = C / p.heads, pairs = p.batch * p.heads;
#pragma omp parallel if (pairs > 1)
  {
    std::vector<float> scratch(static_cast<size_t>(scratch_floats(N, d)));
#pragma omp for schedule(static)
    for (int64_t bh = 0; bh < pairs; ++bh) {
      const int64_t b = bh / p.heads, h = bh % p.heads;
      if (p.channel_major) {  // [B, 3C, N]: head h's channels are planes h·d .. h·d + d − 1
        const float* base = p.qkv + b * 3 * C * N + h * d * N;
        const AttentionRows rows{base, base + C * N, base + 2 * C * N, 1, N, d, p.scale, N};
        f(HeadAt{rows, b * C * N + h * d * N, bh * N}, scratch.data());
      } else {  // [B, N, 3C]
        const float* base = p.qkv + b * N * 3 * C + h * d;
        const AttentionRows rows{base, base + C, base + 2 * C, 3 * C, N, d, p.scale};
        f(HeadAt{rows, b * N * C + h * d, bh * N}, scratch.data());
      }
    }
  }
}

}  // namespace

void attention_forward(const AttentionProblem& p, float* out, float* lse) {
  const int64_t out_stride = p.channel_major ? 1 : p.channels;
  const int64_t out_channel_stride = p.channel_major ? p.tokens : 1;
  for_each_head(p, [&](const HeadAt& at, float* scratch) {
    head_forward(at.rows, {out + at.out_offset, out_stride, out_channel_stride},
                 lse ? lse + at.lse_offset : nullptr, scratch);
  });
}

void attention_backward(const AttentionProblem& p, const float* lse, const float* d_out,
                        float* d_qkv) {
  if (p.channel_major) throw std::invalid_argument("attention_backward: token-major layout only");
  const int64_t C = p.channels;
  for_each_head(p, [&](const HeadAt& at, float* scratch) {
    // The gradient of q, k, v sits where they sit in qkv.
    float* g = d_qkv + (at.rows.q - p.qkv);
    head_backward(at.rows, lse + at.lse_offset, d_out + at.out_offset, C, g, g + C, g + 2 * C,
                  3 * C, scratch);
  });
}

}  // namespace ddpm::kernels

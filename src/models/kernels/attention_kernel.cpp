#include "models/kernels/attention_kernel.h"

#include <algorithm>
#include <cmath>
#include <limits>
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

/// Floats from one token to the next and from one channel to the next in a [B, N, C]-like
/// (token-major: {C, 1}) or [B, C, N]-like (channel-major: {1, N}) tensor.
struct Strides {
  int64_t token, channel;
};

/// Queries handled together by query_block_forward and query_block_backward, one per lane of
/// their vectors: 16, one AVX-512 register (8 took 1.8x as long, fashion-mnist's 64 tokens).
constexpr int kQueryLanes = 16;
/// Channels per vector where the backward pass sums over channels (dK, dV rows).
constexpr int kChannelLanes = 8;

int64_t scratch_floats(int64_t n, int64_t d) {
  const int64_t d8 = (d + kChannelLanes - 1) / kChannelLanes * kChannelLanes;
  return std::max<int64_t>(2 * d8 * n + 2 * kQueryLanes * n, kQueryLanes * n);  // backward, forward
}

/// Queries i0 .. i0 + 15 of one (sample, head), each in one lane of every vector, so that every
/// step is a vertical multiply-add with a key's or value's channel broadcast (no horizontal sums):
/// S[j] = scale · Q_block k_j, the row maxima and sums lane by lane, O[c] = Σ_j P[j] v_jc.
/// Lanes past the last query (i0 + lane ≥ n) compute on zeros and are not stored; the head's
/// output goes to `out`, laid out as `strides` say. `s` holds n · kQueryLanes floats.
DDPM_CPU_CLONES
void query_block_forward(const AttentionRows& in, int64_t i0, float* out, const Strides& strides,
                         float* lse, float* s) {
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
    float* o_i = out + (i0 + l) * strides.token;
    for (c = 0; c < d; ++c) o_i[c * strides.channel] = o[c][l] * inv;
    if (lse) lse[i0 + l] = m[l] + std::log(sum[l]);
  }
}

void head_forward(const AttentionRows& in, float* out, const Strides& strides, float* lse,
                  float* scratch) {
  for (int64_t i0 = 0; i0 < in.n; i0 += kQueryLanes)
    query_block_forward(in, i0, out, strides, lse, scratch);
}

/// The backward pass of queries i0 .. i0 + 15 of one (sample, head), one query per lane as in
/// query_block_forward. Pass 1, per key j: P_j = exp(scale · Q k_j − lse), dP_j = dO v_j (a lane
/// per query, kept in s as [n][2][16]) and r = Σ_j P_j ∘ dP_j, the softmax Jacobian's rank-one
/// part.
/// Pass 2, per key j: dS_j = scale · P_j ∘ (dP_j − r); dQ += dS_j k_jᵀ (lanes: queries);
/// dK_j += Σ_lanes dS_j q, dV_j += Σ_lanes P_j dO, 8 channels per vector (dk, dv [n, d8],
/// token-major, d8 = d rounded up to 8). Lanes past the last query have P = 0, so they add
/// nothing. d_out and d_q are laid out as `out` and `grad` say (token and channel strides).
DDPM_CPU_CLONES
void query_block_backward(const AttentionRows& in, int64_t i0, const float* lse, const float* d_out,
                          const Strides& out, float* d_q, const Strides& grad, float* dk, float* dv,
                          float* s) {
  using lanes = float __attribute__((vector_size(kQueryLanes * sizeof(float))));
  using lanes_in_s = float __attribute__((vector_size(kQueryLanes * sizeof(float)), aligned(4)));
  using chans = float __attribute__((vector_size(kChannelLanes * sizeof(float))));
  using chans_in_s = float __attribute__((vector_size(kChannelLanes * sizeof(float)), aligned(4)));
  constexpr int L = kQueryLanes, CL = kChannelLanes, kMaxVectors = kMaxHeadDim / CL;
  const int64_t n = in.n, d = in.d, ts = in.stride, cs = in.channel_stride;
  const int64_t vectors = (d + CL - 1) / CL;
  const int rows = int(std::min<int64_t>(L, n - i0));
  lanes qt[kMaxHeadDim], dot[kMaxHeadDim], dqt[kMaxHeadDim];        // [c][lane]; q scaled
  chans q_rows[L][kMaxVectors] = {}, do_rows[L][kMaxVectors] = {};  // [lane][c / 8][c % 8]
  lanes shift{}, valid{};
  for (int l = 0; l < rows; ++l) {
    shift[l] = lse[i0 + l];
    valid[l] = 1.0f;
    for (int64_t c = 0; c < d; ++c) {
      q_rows[l][c / CL][c % CL] = in.q[(i0 + l) * ts + c * cs];
      do_rows[l][c / CL][c % CL] = d_out[(i0 + l) * out.token + c * out.channel];
    }
  }
  for (int64_t c = 0; c < d; ++c) {
    for (int l = 0; l < L; ++l) {
      qt[c][l] = q_rows[l][c / CL][c % CL] * in.scale;
      dot[c][l] = do_rows[l][c / CL][c % CL];
    }
    dqt[c] = lanes{};
  }
  lanes_in_s* sv = reinterpret_cast<lanes_in_s*>(s);  // sv[2j]: P_j, sv[2j + 1]: dP_j
  for (int64_t j = 0; j < n; ++j) {
    const float* k_j = in.k + j * ts;
    const float* v_j = in.v + j * ts;
    lanes score{}, dp{};
    for (int64_t c = 0; c < d; ++c) {
      score += qt[c] * k_j[c * cs];
      dp += dot[c] * v_j[c * cs];
    }
    sv[2 * j] = score - shift, sv[2 * j + 1] = dp;
  }
  lanes r{};
  for (int64_t j = 0; j < n; ++j) {
    float* p = s + 2 * j * L;
#pragma omp simd
    for (int l = 0; l < L; ++l) p[l] = cpu::fast_exp(p[l]);
    const lanes pj = lanes(sv[2 * j]) * valid;
    sv[2 * j] = pj;
    r += pj * lanes(sv[2 * j + 1]);
  }
  chans_in_s* dkv = reinterpret_cast<chans_in_s*>(dk);
  chans_in_s* dvv = reinterpret_cast<chans_in_s*>(dv);
  for (int64_t j = 0; j < n; ++j) {
    const lanes pj = sv[2 * j];
    const lanes ds = pj * (lanes(sv[2 * j + 1]) - r) * in.scale;
    const float* k_j = in.k + j * ts;
    for (int64_t c = 0; c < d; ++c) dqt[c] += ds * k_j[c * cs];
    for (int64_t v = 0; v < vectors; ++v) {
      chans dk_j = dkv[j * vectors + v], dv_j = dvv[j * vectors + v];
      for (int l = 0; l < rows; ++l) {
        dk_j += ds[l] * q_rows[l][v];
        dv_j += pj[l] * do_rows[l][v];
      }
      dkv[j * vectors + v] = dk_j, dvv[j * vectors + v] = dv_j;
    }
  }
  for (int l = 0; l < rows; ++l)
    for (int64_t c = 0; c < d; ++c) d_q[(i0 + l) * grad.token + c * grad.channel] = dqt[c][l];
}

/// One (sample, head)'s backward, kQueryLanes queries at a time; dK and dV summed over the blocks
/// in scratch, then stored.
void head_backward(const AttentionRows& in, const float* lse, const float* d_out,
                   const Strides& out, float* d_q, float* d_k, float* d_v, const Strides& grad,
                   float* scratch) {
  const int64_t n = in.n, d = in.d, d8 = (d + kChannelLanes - 1) / kChannelLanes * kChannelLanes;
  float* dk = scratch;      // dK [n, d8]
  float* dv = dk + n * d8;  // dV [n, d8]
  float* s = dv + n * d8;   // P and dP of a block [n][2][kQueryLanes]
  std::fill(dk, dk + 2 * n * d8, 0.0f);
  for (int64_t i0 = 0; i0 < n; i0 += kQueryLanes)
    query_block_backward(in, i0, lse, d_out, out, d_q, grad, dk, dv, s);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < d; ++c) {
      d_k[j * grad.token + c * grad.channel] = dk[j * d8 + c];
      d_v[j * grad.token + c * grad.channel] = dv[j * d8 + c];
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

/// The output's layout (and its gradient's): [B, N, C], or [B, C, N] when channel-major.
Strides output_strides(const AttentionProblem& p) {
  return p.channel_major ? Strides{1, p.tokens} : Strides{p.channels, 1};
}

}  // namespace

void attention_forward(const AttentionProblem& p, float* out, float* lse) {
  const Strides strides = output_strides(p);
  for_each_head(p, [&](const HeadAt& at, float* scratch) {
    head_forward(at.rows, out + at.out_offset, strides, lse ? lse + at.lse_offset : nullptr,
                 scratch);
  });
}

void attention_backward(const AttentionProblem& p, const float* lse, const float* d_out,
                        float* d_qkv) {
  // The gradients of q, k, v sit where they sit in qkv, laid out as they are; d_out as out.
  const Strides out = output_strides(p);
  for_each_head(p, [&](const HeadAt& at, float* scratch) {
    float* g = d_qkv + (at.rows.q - p.qkv);
    const int64_t part = at.rows.k - at.rows.q;  // from q's rows to k's
    head_backward(at.rows, lse + at.lse_offset, d_out + at.out_offset, out, g, g + part,
                  g + 2 * part, {at.rows.stride, at.rows.channel_stride}, scratch);
  });
}

}  // namespace ddpm::kernels

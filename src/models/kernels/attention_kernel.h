// The loops of models/fused_attention.cpp on raw float32 buffers (no LibTorch, so that they
// compile vectorised, in AVX2 + FMA and baseline versions, and with OpenMP across (sample, head)
// pairs, as group_norm_act_kernel.h explains).
//
// Layout: packed projections qkv [B, N, 3C] (q | k | v, head h at channels h·d of each), the
// output and its gradient [B, N, C] (head h at channels h·d), lse [B, heads, N].
#pragma once
#include <cstdint>

namespace ddpm::kernels {

/// The largest channels per head the kernels take (the forward keeps a block's queries and
/// outputs, kMaxHeadDim × 8 floats each, in local arrays).
constexpr int64_t kMaxHeadDim = 32;

struct AttentionProblem {
  const float* qkv;
  int64_t batch, tokens, channels, heads;
  float scale;  ///< applied to q·k
  /// qkv [B, 3C, N] and out [B, C, N] instead, and their gradients likewise (the NCHW maps'
  /// layout, for 1×1 projections).
  bool channel_major = false;
};

/// out_i = Σ_j softmax_j(scale · q_i·k_j) v_j per head; and, when lse is not null,
/// lse_i = log Σ_j exp(scale · q_i·k_j), which is all the backward pass needs to rebuild the
/// probabilities (as FlashAttention does) instead of keeping the N×N matrix.
void attention_forward(const AttentionProblem& p, float* out, float* lse);

/// d_qkv [B, N, 3C] given d_out [B, N, C] (channel-major: [B, 3C, N] given [B, C, N]) and the
/// forward's lse, from P = exp(S − lse),
/// dV = Pᵀ dO, dP = dO Vᵀ, dS = P ∘ (dP − rowsum(P ∘ dP)), dQ = scale · dS K, dK = scale · dSᵀ Q.
void attention_backward(const AttentionProblem& p, const float* lse, const float* d_out,
                        float* d_qkv);

}  // namespace ddpm::kernels

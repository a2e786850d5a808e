// Fused multi-head scaled-dot-product attention for the CPU, forward and backward, for the small
// heads of DDPM-style UNets, working directly on the packed projections.
//
// softmax(Q Kᵀ · scale) V (Vaswani et al. 2017, eq. 1) per (sample, head) in one pass over a
// parallel loop, reading q, k and v where one [B, N, 3C] matrix product left them and writing
// the heads side by side as [B, N, C], the layout to_out takes. Why: LibTorch 1.13's CPU bmm runs
// small heads (8 channels) as one tiny GEMM per batch entry, each dispatched through
// select/as_strided/resolve_conj (aten/src/ATen/native/LinearAlgebra.cpp, bmm_out_or_baddbmm_),
// which cost more than the arithmetic, and the split into heads and back costs two transposing
// copies of q, k, v and the output.
//
// The backward pass keeps only lse_i = log Σ_j exp(s_ij) per row from the forward pass and
// rebuilds P from it (FlashAttention's recomputation), so training memory is O(N) per head, not
// the N×N matrix; the formulas are in kernels/attention_kernel.h.
//
//   auto qkv = torch::addmm(b_qkv, tokens, w_qkv.t()).view({B, N, 3 * C});  // q | k | v
//   auto out = fused_attention(qkv, heads, 1 / std::sqrt(8.0));            // [B, N, C]
#pragma once
#include <torch/torch.h>

#include "models/kernels/attention_kernel.h"

namespace ddpm {

/// Heads up to this many channels take the fused path (larger ones are efficient in bmm).
constexpr int64_t kFusedAttentionMaxHeadDim = kernels::kMaxHeadDim;

/// Whether fused_attention supports packed projections qkv of `heads` heads: CPU float32
/// [B, N, 3C] with C / heads ≤ kFusedAttentionMaxHeadDim.
bool fused_attention_applies(const torch::Tensor& qkv, int64_t heads);

/// Attention of the packed projections qkv [B, N, 3C] (channels 0..C q, C..2C k, 2C..3C v, head
/// h at h·C/heads within each) → [B, N, C] with head h's output at channels h·C/heads;
/// differentiable in qkv. Throws c10::Error for inputs fused_attention_applies rejects.
torch::Tensor fused_attention(const torch::Tensor& qkv, int64_t heads, double scale);

/// The same on channel-major projections qkv [B, 3C, N] → [B, C, N] (the layout of NCHW maps,
/// so that 1×1 convolutions make the projections with no transposes); differentiable in qkv.
torch::Tensor fused_attention_channels_first(const torch::Tensor& qkv, int64_t heads, double scale);

}  // namespace ddpm

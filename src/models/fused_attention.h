// Fused scaled-dot-product attention for the CPU, forward and backward, for small heads.
//
// softmax(Q Kᵀ · scale) V (Vaswani et al. 2017, eq. 1) computed per (batch, head) in one pass
// over a parallel loop, instead of LibTorch's bmm → softmax → bmm. Why: with the small heads of
// DDPM-style UNets (8 channels per head) LibTorch 1.13's CPU bmm falls back to one tiny GEMM per
// batch entry, each dispatched through select/as_strided/resolve_conj (aten/src/ATen/native/
// LinearAlgebra.cpp, bmm_out_or_baddbmm_), which cost more than the arithmetic: the profile in
// the README showed select + as_strided + resolve_conj at ~17% of a fashion-mnist training step.
//
// The backward pass keeps P = softmax(·) from the forward pass and applies
//   dV = Pᵀ dO,  dP = dO Vᵀ,  dS = P ∘ (dP − rowsum(P ∘ dP)),  dQ = scale · dS K,
//   dK = scale · dSᵀ Q.
//
//   auto out = fused_attention(q, k, v, 1 / std::sqrt(8.0));   // [BH, N, d] each, float32, CPU
#pragma once
#include <torch/torch.h>

namespace ddpm {

/// Heads up to this many channels take the fused path (larger ones are efficient in bmm).
constexpr int64_t kFusedAttentionMaxHeadDim = 32;

/// Whether fused_attention supports these inputs: CPU float32 [BH, N, d] with d ≤ the limit.
bool fused_attention_applies(const torch::Tensor& q);

/// softmax(q kᵀ · scale) v for q, k, v [BH, N, d] (any strides; made contiguous), differentiable.
torch::Tensor fused_attention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, double scale);

}  // namespace ddpm

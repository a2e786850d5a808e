// Attention for sampling with heads too wide for the fused kernel (ddpm-cifar10: one head of 256
// channels at 16×16), on channel-major projections qkv [B, 3C, N] (the 1×1 convolutions' output),
// as two strided GEMMs of kernels/gemm_kernel.h around LibTorch's softmax:
//
//   Sᵀ[j, i] = Σ_c k[c, j] q[c, i],   P = softmax over j of scale · Sᵀ,   O[c, i] = Σ_j v[c, j]
//   P[j, i],
//
// so that neither q, k, v nor the output is transposed and the products run on the AVX-512
// micro-kernel instead of OpenBLAS's AVX2 sgemm. Forward only.
//
//   auto out = gemm_attention_channels_first(qkv, heads, 1 / std::sqrt(256.0));  // [B, C, N]
#pragma once
#include <torch/torch.h>

namespace ddpm {

/// Whether gemm_attention_channels_first takes these projections: CPU float32 [B, 3C, N] with N
/// a multiple of 8 and `heads` dividing C.
bool gemm_attention_applies(const torch::Tensor& qkv, int64_t heads);

/// softmax(QᵀK · scale) per head of qkv [B, 3C, N] (q | k | v planes, head h at planes h·C/heads
/// of each) → [B, C, N]. Throws c10::Error for what gemm_attention_applies rejects and when qkv
/// requires a gradient.
torch::Tensor gemm_attention_channels_first(const torch::Tensor& qkv, int64_t heads, double scale);

}  // namespace ddpm

// GroupNorm (Wu & He 2018) fused with what the DDPM UNet does around it: an optional per-(sample,
// channel) bias added before normalising (the ResnetBlock's h + time_emb_proj(temb)) and an
// optional SiLU after it (every norm1 / norm2 / conv_norm_out is followed by one):
//
//   y = act( (x + b[n, c] − μ[n, g]) · rsqrt(σ²[n, g] + ε) · γ[c] + β[c] )
//
// with μ, σ² the mean and biased variance over the channels of group g and all positions, as
// torch.nn.GroupNorm. Why fused: LibTorch runs add → native_group_norm → silu as three passes over
// the activation, each writing a full tensor that autograd keeps; here the forward reads x once
// for the statistics and once to write y, and autograd keeps only x and the [N, G] statistics.
// The backward pass recomputes x̂ and the SiLU derivative from x and writes dx in two passes:
//
//   dz = dy · σ(z)(1 + z(1 − σ(z)))                          (z the pre-activation)
//   dβ_c = Σ dz,  dγ_c = Σ dz·x̂,  dx = rstd · (γ_c dz − mean_g(γ dz) − x̂ · mean_g(γ dz x̂)),
//   db[n, c] = Σ_positions dx.
//
// The fast path covers float32 CPU tensors [N, C, *] (made contiguous); anything else (CUDA,
// half precision) runs the same formula as LibTorch operators.
//
//   auto y = group_norm_act(x, temb_bias, norm->weight, norm->bias, 32, 1e-6, /*silu=*/true);
#pragma once
#include <torch/torch.h>

namespace ddpm {

/// y = act(GroupNorm(x + bias[:, :, None, None]) γ + β) for x [N, C, *]; `bias` [N, C] may be
/// undefined (no bias); γ and β [C] (affine GroupNorm); `silu` picks the activation (else none).
/// Differentiable in x, bias, γ and β. Throws c10::Error when groups do not divide C.
torch::Tensor group_norm_act(const torch::Tensor& x, const torch::Tensor& bias,
                             const torch::Tensor& gamma, const torch::Tensor& beta, int64_t groups,
                             double eps, bool silu);

/// group_norm_act(cat({x1, x2}, 1), {}, γ, β, groups, eps, silu), without the concatenation being
/// made when no gradient is needed on the CPU in float32 (the UNet's skip connections: the
/// same result, bit for bit); through torch::cat otherwise.
torch::Tensor group_norm_act_concat(const torch::Tensor& x1, const torch::Tensor& x2,
                                    const torch::Tensor& gamma, const torch::Tensor& beta,
                                    int64_t groups, double eps, bool silu);

}  // namespace ddpm

// The loops of models/group_norm_act.cpp on raw float32 buffers: no LibTorch here, so that this
// file compiles with the flags that let GCC vectorise them (-fopenmp-simd for the reductions,
// -fno-trapping-math for the SiLU's branch-free clamp), twice, for AVX2 + FMA and for baseline
// x86-64 (cpu_math.h), and with OpenMP, whose threads (the same runtime and count as LibTorch's
// intra-op pool) each take whole (sample, group) blocks.
#pragma once
#include <cstdint>

namespace ddpm::kernels {

/// x [samples, channels, positions] contiguous; bias [samples, channels] or null; γ, β [channels].
struct GroupNormProblem {
  const float* x;
  const float* bias;
  const float* gamma;
  const float* beta;
  int64_t samples, channels, groups, positions;
  /// When set, x holds the first x_channels channels of each sample ([N, x_channels, P]) and x2
  /// the rest ([N, channels − x_channels, P]): the forward pass normalises their concatenation
  /// along the channels without it being copied (the UNet's skip connections).
  const float* x2 = nullptr;
  int64_t x_channels = 0;
};

/// y = act((x + b − μ)·rstd·γ + β), act = SiLU or identity; mean, rstd [samples, groups].
void group_norm_act_forward(const GroupNormProblem& p, double eps, bool silu, float* y, float* mean,
                            float* rstd);

/// Backward given dy and the forward's statistics: writes dx, d_bias = Σ_positions dx
/// [samples, channels] (when not null), and per (sample, channel) Σ dz and Σ dz·x̂ (dz the
/// gradient at the pre-activation), whose sums over samples are dβ and dγ.
void group_norm_act_backward(const GroupNormProblem& p, const float* mean, const float* rstd,
                             bool silu, const float* dy, float* dx, float* d_bias, double* sum_dz,
                             double* sum_dz_xhat);

}  // namespace ddpm::kernels

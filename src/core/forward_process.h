// The forward (noising) process and its posterior, in closed form.
//
// DDPM (Ho et al. 2020): eq. (4) q(x_t|x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I);
// eqs. (6)–(7) q(x_{t−1}|x_t, x_0) = N(μ̃_t(x_t, x_0), β̃_t I). DDPM code: q_sample, q_posterior.
#pragma once
#include <torch/torch.h>

#include "core/noise_schedule.h"

namespace ddpm {

/// x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, with t [B] step indices and noise ε like x_0.   eq. (4)
torch::Tensor q_sample(const NoiseSchedule& schedule, const torch::Tensor& x0,
                       const torch::Tensor& t, const torch::Tensor& noise);

struct Posterior {
  torch::Tensor mean;          ///< μ̃_t(x_t, x_0)                    [B, C, H, W]
  torch::Tensor variance;      ///< β̃_t                              [B, 1, 1, 1]
  torch::Tensor log_variance;  ///< log β̃_t, clipped at t = 1         [B, 1, 1, 1]
};

/// q(x_{t−1} | x_t, x_0).   eqs. (6)–(7)
Posterior q_posterior(const NoiseSchedule& schedule, const torch::Tensor& x0,
                      const torch::Tensor& x_t, const torch::Tensor& t);

}  // namespace ddpm

// NoiseSchedule: every per-step coefficient of the discrete diffusion, computed once in float64.
// Nothing else in the project recomputes ᾱ.
//
// Field names follow DDPM's code (diffusion_utils_2.GaussianDiffusion2) and diffusers, so they can
// be grepped there. Equations: DDPM eq. (4) for q(x_t|x_0), eqs. (6)–(7) for the posterior
// q(x_{t−1}|x_t, x_0). Index i of every tensor is the paper's step t = i + 1.
#pragma once
#include <torch/torch.h>

#include "core/beta_schedule.h"

namespace ddpm {

struct NoiseSchedule {
  int64_t num_train_timesteps = 0;              ///< T
  torch::Tensor betas;                          ///< β_t                          [T] f64
  torch::Tensor alphas;                         ///< α_t = 1 − β_t
  torch::Tensor alphas_cumprod;                 ///< ᾱ_t = Π_{s≤t} α_s
  torch::Tensor alphas_cumprod_prev;            ///< ᾱ_{t−1}, with ᾱ_0 = 1
  torch::Tensor sqrt_alphas_cumprod;            ///< √ᾱ_t
  torch::Tensor sqrt_one_minus_alphas_cumprod;  ///< √(1 − ᾱ_t)
  torch::Tensor log_one_minus_alphas_cumprod;   ///< log(1 − ᾱ_t)
  torch::Tensor sqrt_recip_alphas_cumprod;      ///< 1/√ᾱ_t
  torch::Tensor sqrt_recipm1_alphas_cumprod;    ///< √(1/ᾱ_t − 1)
  torch::Tensor posterior_variance;  ///< β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t)   eq. (7)
  /// log β̃_t with β̃_1 (= 0) replaced by β̃_2, as in DDPM's code.
  torch::Tensor posterior_log_variance_clipped;
  torch::Tensor posterior_mean_coef1;  ///< β_t √ᾱ_{t−1}/(1 − ᾱ_t), the x_0 weight of μ̃   eq. (7)
  torch::Tensor posterior_mean_coef2;  ///< (1 − ᾱ_{t−1}) √α_t/(1 − ᾱ_t), the x_t weight of μ̃

  /// ᾱ at step index t, or 1 for t < 0 (the clean end of the chain).
  double alpha_bar(int64_t t) const;
};

NoiseSchedule make_noise_schedule(const torch::Tensor& betas);
NoiseSchedule make_noise_schedule(const ScheduleConfig& config);

/// ᾱ at continuous step labels t (a real tensor of any shape, values in [0, T − 1]) as float64
/// on the CPU. Between integer steps the noise level σ = √((1 − ᾱ)/ᾱ) is interpolated linearly
/// in t, as diffusers 0.21.4's sigma samplers do (EulerDiscreteScheduler.set_timesteps:
/// np.interp(timesteps, arange(T), sigmas)), so a network asked at a fractional t sees the noise
/// level the sampler meant; at integer t this is alphas_cumprod[t].
torch::Tensor alpha_bar_at(const NoiseSchedule& schedule, const torch::Tensor& t);

/// coefficients[t] gathered per batch element and shaped [B, 1, 1, ...] to broadcast against a
/// tensor of `ndim` dimensions, in `like`'s dtype and device.
torch::Tensor extract(const torch::Tensor& coefficients, const torch::Tensor& t, int64_t ndim,
                      const torch::Tensor& like);

}  // namespace ddpm

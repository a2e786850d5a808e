// The terms of the variational bound (DDPM eq. 5) in bits per dimension, as pure math:
//
//   L = L_T + Σ_{t>1} L_{t−1} + L_0
//   L_T     = KL(q(x_T|x_0) ‖ N(0, I))                          (the prior term)
//   L_{t−1} = KL(q(x_{t−1}|x_t, x_0) ‖ p_θ(x_{t−1}|x_t))          (Gaussian KLs, eq. 5)
//   L_0     = −log p_θ(x_0|x_1), the discretized Gaussian decoder of DDPM §3.3 (eq. 13)
//
// Reference code: DDPM's diffusion_tf/diffusion_utils_2.py (normal_kl, _vb_terms_bpd, _prior_bpd,
// calc_bpd_loop) and diffusion_tf/utils.py (approx_standard_normal_cdf,
// discretized_gaussian_log_likelihood); improved-diffusion's gaussian_diffusion.py and losses.py
// are the same functions in PyTorch. Index t of the schedule is the paper's step t + 1, so the
// decoder term L_0 sits at index 0, as in the reference.
//
//   auto prior = prior_bpd(schedule, x0);                               // [B] bits/dim
//   auto term = vb_term_bpd(schedule, x0, x_t, t, model_mean, model_log_variance);  // [B]
#pragma once
#include <torch/torch.h>

#include "core/noise_schedule.h"

namespace ddpm {

/// KL(N(mean1, e^logvar1) ‖ N(mean2, e^logvar2)) elementwise, in nats (broadcasting).
torch::Tensor normal_kl(const torch::Tensor& mean1, const torch::Tensor& logvar1,
                        const torch::Tensor& mean2, const torch::Tensor& logvar2);

/// Φ(x) ≈ ½(1 + tanh(√(2/π)(x + 0.044715 x³))), the reference's fast approximation (|error| <
/// 3.3e-4); used so our bits/dim match the published code's.
torch::Tensor approx_standard_normal_cdf(const torch::Tensor& x);

/// log p(x) of 8-bit data x (uint8 values rescaled to [−1, 1]) under N(means, e^{2 log_scales})
/// integrated over each pixel's bin [x − 1/255, x + 1/255], the outer bins extended to ±∞
/// (DDPM eq. 13). Elementwise, in nats; probabilities are floored at 1e-12 as in the reference.
torch::Tensor discretized_gaussian_log_likelihood(const torch::Tensor& x,
                                                  const torch::Tensor& means,
                                                  const torch::Tensor& log_scales);

/// L_T in bits/dim per batch element [B]: KL(q(x_T|x_0) ‖ N(0, I)) averaged over C·H·W, / log 2.
torch::Tensor prior_bpd(const NoiseSchedule& schedule, const torch::Tensor& x0);

/// One term of the bound per batch element [B] in bits/dim: at step index t > 0 the KL between
/// the true posterior q(x_{t−1}|x_t, x_0) and the model's N(model_mean, e^model_log_variance);
/// at t = 0 the decoder NLL −log p(x_0 | model_mean, e^model_log_variance). t is [B] int64.
torch::Tensor vb_term_bpd(const NoiseSchedule& schedule, const torch::Tensor& x0,
                          const torch::Tensor& x_t, const torch::Tensor& t,
                          const torch::Tensor& model_mean, const torch::Tensor& model_log_variance);

/// log σ² of p_θ(x_{t−1}|x_t) with fixed variances [T] f64, as DDPM's p_mean_variance: β̃_t
/// clipped at t = 1 (fixed_large = false, "fixedsmall"), or β_t with β̃_2 at t = 1 for a better
/// decoder likelihood (fixed_large = true, "fixedlarge").
torch::Tensor fixed_model_log_variance(const NoiseSchedule& schedule, bool fixed_large);

/// log Σ_θ of a network that learns its variances, improved DDPM eq. (15): v [B, C, H, W] in
/// [−1, 1] (the output's variance channels) interpolates between log β_t and log β̃_t per element,
/// frac = (v + 1)/2, log Σ = frac · log β_t + (1 − frac) · log β̃_t with β̃ clipped at t = 0 as
/// posterior_log_variance_clipped (improved-diffusion gaussian_diffusion.py p_mean_variance,
/// ModelVarType.LEARNED_RANGE). t is [B] int64; the result is float64 on v's device.
torch::Tensor learned_range_log_variance(const NoiseSchedule& schedule, const torch::Tensor& v,
                                         const torch::Tensor& t);

}  // namespace ddpm

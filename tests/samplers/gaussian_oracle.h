// The exact denoiser for Gaussian data x_0 ~ N(μ, diag σ²): with x_t = √ᾱ x_0 + √(1−ᾱ) ε,
// x_t ~ N(√ᾱ μ, ᾱσ² + 1 − ᾱ) and E[ε | x_t] = √(1−ᾱ) (x_t − √ᾱ μ) / (ᾱσ² + 1 − ᾱ).
// Samplers driven by it must reproduce μ and σ², which tests them without any network.
#pragma once
#include <torch/torch.h>

#include "core/noise_schedule.h"
#include "samplers/denoise_fn.h"

namespace ddpm::test {

inline DenoiseFn gaussian_oracle(const NoiseSchedule& schedule, torch::Tensor mean,
                                 torch::Tensor stddev) {
  return [&schedule, mean, stddev](const torch::Tensor& x_t, const torch::Tensor& t) {
    std::vector<int64_t> shape(size_t(x_t.dim()), 1);
    shape[0] = t.size(0);
    auto a = alpha_bar_at(schedule, t).view(shape).to(x_t.device(), x_t.scalar_type());  // [B,1,..]
    auto m = mean.to(x_t.dtype()), var = stddev.to(x_t.dtype()).pow(2);
    return (1 - a).sqrt() * (x_t - a.sqrt() * m) / (a * var + 1 - a);
  };
}

// The exact output law of a DDIM chain (DDIM eq. 12) driven by the oracle above. Every step is
// affine in x_t plus independent noise, so N(m, v) maps to N(P m + Q, P² v + σ²) with
//   P = √ᾱ_prev (1 − √(1−ᾱ) k)/√ᾱ + c k,   Q = (√ᾱ_prev √(1−ᾱ) − c √ᾱ) k μ,
//   k = √(1−ᾱ)/(ᾱσ² + 1 − ᾱ),  c = √(1 − ᾱ_prev − σ_η²).
// This separates the chain's discretisation bias (deterministic, computed here in float64) from
// sampling error, so a test can hold the sampler to a few standard errors.
struct GaussianMoments {
  torch::Tensor mean, variance;
};

inline GaussianMoments ddim_output_moments(const NoiseSchedule& schedule,
                                           const std::vector<int64_t>& timesteps, double eta,
                                           torch::Tensor mean, torch::Tensor stddev,
                                           bool start_from_true_marginal = false) {
  auto mu = mean.to(torch::kFloat64), var = stddev.to(torch::kFloat64).pow(2);
  auto m = torch::zeros_like(mu), v = torch::ones_like(mu);  // x_T ~ N(0, I), as sampled
  if (start_from_true_marginal) {  // q(x_T) itself, which N(0, I) only approximates
    const double a = schedule.alpha_bar(timesteps.front());
    m = std::sqrt(a) * mu;
    v = a * var + 1 - a;
  }
  for (size_t i = 0; i < timesteps.size(); ++i) {
    const double a = schedule.alpha_bar(timesteps[i]);
    const double ap = i + 1 < timesteps.size() ? schedule.alpha_bar(timesteps[i + 1]) : 1.0;
    const double s2 = eta * eta * (1 - ap) / (1 - a) * (1 - a / ap);
    const double c = std::sqrt(std::max(1 - ap - s2, 0.0));
    auto k = std::sqrt(1 - a) / (a * var + 1 - a);
    auto P = std::sqrt(ap) * (1 - std::sqrt(1 - a) * k) / std::sqrt(a) + c * k;
    auto Q = (std::sqrt(ap) * std::sqrt(1 - a) - c * std::sqrt(a)) * k * mu;
    m = P * m + Q;
    v = P * P * v + s2;
  }
  return {m, v};
}

}  // namespace ddpm::test

#include "core/vlb.h"

#include <cmath>

#include "core/forward_process.h"

namespace ddpm {

namespace {

// mean over every dimension but the first (DDPM's nn.meanflat).
torch::Tensor mean_flat(const torch::Tensor& x) {
  return x.flatten(1).mean(1);
}

}  // namespace

torch::Tensor normal_kl(const torch::Tensor& mean1, const torch::Tensor& logvar1,
                        const torch::Tensor& mean2, const torch::Tensor& logvar2) {
  // diffusion_utils_2.normal_kl
  return 0.5 * (-1.0 + logvar2 - logvar1 + (logvar1 - logvar2).exp() +
                (mean1 - mean2).pow(2) * (-logvar2).exp());
}

torch::Tensor approx_standard_normal_cdf(const torch::Tensor& x) {
  return 0.5 * (1.0 + torch::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x.pow(3))));
}

torch::Tensor discretized_gaussian_log_likelihood(const torch::Tensor& x,
                                                  const torch::Tensor& means,
                                                  const torch::Tensor& log_scales) {
  TORCH_CHECK(x.sizes() == means.sizes(), "discretized_gaussian_log_likelihood: x ", x.sizes(),
              " and means ", means.sizes(), " must have the same shape");
  // diffusion_tf/utils.py discretized_gaussian_log_likelihood: bins of width 2/255.
  auto centered = x - means;
  auto inv_stdv = (-log_scales).exp();
  auto cdf_plus = approx_standard_normal_cdf(inv_stdv * (centered + 1.0 / 255.0));
  auto cdf_min = approx_standard_normal_cdf(inv_stdv * (centered - 1.0 / 255.0));
  auto log_cdf_plus = cdf_plus.clamp_min(1e-12).log();
  auto log_one_minus_cdf_min = (1.0 - cdf_min).clamp_min(1e-12).log();
  auto log_cdf_delta = (cdf_plus - cdf_min).clamp_min(1e-12).log();
  return torch::where(x < -0.999, log_cdf_plus,
                      torch::where(x > 0.999, log_one_minus_cdf_min, log_cdf_delta));
}

torch::Tensor prior_bpd(const NoiseSchedule& schedule, const torch::Tensor& x0) {
  // diffusion_utils_2._prior_bpd: q(x_T|x_0) = N(√ᾱ_T x_0, 1 − ᾱ_T) against N(0, 1).
  const int64_t T = schedule.num_train_timesteps;
  auto t = torch::full({x0.size(0)}, T - 1, torch::kLong);
  auto mean = extract(schedule.sqrt_alphas_cumprod, t, x0.dim(), x0) * x0;
  auto log_variance = extract(schedule.log_one_minus_alphas_cumprod, t, x0.dim(), x0);
  auto zero = torch::zeros({}, x0.options());
  return mean_flat(normal_kl(mean, log_variance, zero, zero)) / std::log(2.0);
}

torch::Tensor vb_term_bpd(const NoiseSchedule& schedule, const torch::Tensor& x0,
                          const torch::Tensor& x_t, const torch::Tensor& t,
                          const torch::Tensor& model_mean,
                          const torch::Tensor& model_log_variance) {
  TORCH_CHECK(t.dim() == 1 && t.size(0) == x0.size(0),
              "vb_term_bpd: t must be [B] with B = ", x0.size(0), ", got ", t.sizes());
  // diffusion_utils_2._vb_terms_bpd
  auto posterior = q_posterior(schedule, x0, x_t, t);
  auto model_log_var = model_log_variance.expand_as(x0);
  auto kl =
      mean_flat(normal_kl(posterior.mean, posterior.log_variance, model_mean, model_log_var)) /
      std::log(2.0);
  auto decoder_nll =
      -mean_flat(discretized_gaussian_log_likelihood(x0, model_mean, 0.5 * model_log_var)) /
      std::log(2.0);
  return torch::where(t.to(x0.device()) == 0, decoder_nll, kl);
}

torch::Tensor fixed_model_log_variance(const NoiseSchedule& schedule, bool fixed_large) {
  if (!fixed_large) return schedule.posterior_log_variance_clipped;
  const int64_t T = schedule.num_train_timesteps;
  // diffusion_utils_2.p_mean_variance, 'fixedlarge': log(append(β̃[1], β[1:])).
  return torch::cat({schedule.posterior_variance.slice(0, 1, 2), schedule.betas.slice(0, 1, T)})
      .log();
}

torch::Tensor learned_range_log_variance(const NoiseSchedule& schedule, const torch::Tensor& v,
                                         const torch::Tensor& t) {
  TORCH_CHECK(v.dim() >= 1 && t.dim() == 1 && t.size(0) == v.size(0),
              "learned_range_log_variance: v [B, ...] and t [B] must agree, got ", v.sizes(),
              " and ", t.sizes());
  const auto v64 = v.to(torch::kFloat64);
  auto min_log = extract(schedule.posterior_log_variance_clipped, t, v.dim(), v64);
  auto max_log = extract(schedule.betas.log(), t, v.dim(), v64);
  auto frac = (v64 + 1) / 2;  // improved DDPM eq. (15): v ∈ [−1, 1]
  return frac * max_log + (1 - frac) * min_log;
}

}  // namespace ddpm

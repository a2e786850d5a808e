#include "core/noise_schedule.h"

#include <cmath>

namespace ddpm {

NoiseSchedule make_noise_schedule(const torch::Tensor& betas_in) {
  TORCH_CHECK(betas_in.dim() == 1 && betas_in.size(0) >= 2, "betas must be a 1-d tensor of T >= 2");
  NoiseSchedule s;
  auto betas = betas_in.to(torch::kFloat64).cpu().contiguous();
  const int64_t T = betas.size(0);
  s.num_train_timesteps = T;
  s.betas = betas;
  s.alphas = 1.0 - betas;
  s.alphas_cumprod = torch::cumprod(s.alphas, 0);
  s.alphas_cumprod_prev =
      torch::cat({torch::ones({1}, betas.options()), s.alphas_cumprod.slice(0, 0, T - 1)});
  s.sqrt_alphas_cumprod = s.alphas_cumprod.sqrt();
  s.sqrt_one_minus_alphas_cumprod = (1.0 - s.alphas_cumprod).sqrt();
  s.log_one_minus_alphas_cumprod = (1.0 - s.alphas_cumprod).log();
  s.sqrt_recip_alphas_cumprod = s.alphas_cumprod.rsqrt();
  s.sqrt_recipm1_alphas_cumprod = (1.0 / s.alphas_cumprod - 1.0).sqrt();
  // DDPM eq. (7)
  s.posterior_variance = betas * (1.0 - s.alphas_cumprod_prev) / (1.0 - s.alphas_cumprod);
  s.posterior_log_variance_clipped =
      torch::cat({s.posterior_variance.slice(0, 1, 2), s.posterior_variance.slice(0, 1, T)}).log();
  s.posterior_mean_coef1 = betas * s.alphas_cumprod_prev.sqrt() / (1.0 - s.alphas_cumprod);
  s.posterior_mean_coef2 =
      (1.0 - s.alphas_cumprod_prev) * s.alphas.sqrt() / (1.0 - s.alphas_cumprod);
  return s;
}

NoiseSchedule make_noise_schedule(const ScheduleConfig& config) {
  return make_noise_schedule(make_betas(config));
}

double NoiseSchedule::alpha_bar(int64_t t) const {
  TORCH_CHECK(t < num_train_timesteps, "timestep ", t, " out of range [0, ", num_train_timesteps,
              ")");
  return t < 0 ? 1.0 : alphas_cumprod.data_ptr<double>()[t];
}

torch::Tensor alpha_bar_at(const NoiseSchedule& schedule, const torch::Tensor& t) {
  TORCH_CHECK(schedule.alphas_cumprod.defined(), "alpha_bar_at: the schedule is empty");
  const int64_t T = schedule.num_train_timesteps;
  auto tt = t.to(torch::kCPU, torch::kFloat64);
  if (tt.numel() > 0) {
    const double lo = tt.min().item<double>(), hi = tt.max().item<double>();
    TORCH_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo >= 0.0 && hi <= double(T - 1),
                "step labels must lie in [0, ", T - 1, "], got values in [", lo, ", ", hi, "]");
  }
  auto lower = tt.floor().clamp_max(double(T - 2)).to(torch::kLong);  // [..] left neighbour
  auto frac = tt - lower.to(torch::kFloat64);                         // in [0, 1]
  auto sigmas = schedule.sqrt_recipm1_alphas_cumprod;                 // σ_t  [T]
  auto s0 = sigmas.index_select(0, lower.flatten()).view(tt.sizes());
  auto s1 = sigmas.index_select(0, (lower + 1).flatten()).view(tt.sizes());
  auto sigma = s0 + frac * (s1 - s0);
  auto alpha_bar = 1.0 / (1.0 + sigma * sigma);
  // Exact table values at integer labels (no round trip through σ).
  auto whole = tt.floor();
  auto integral = tt.eq(whole);
  auto exact =
      schedule.alphas_cumprod.index_select(0, whole.to(torch::kLong).flatten()).view(tt.sizes());
  return torch::where(integral, exact, alpha_bar);
}

torch::Tensor extract(const torch::Tensor& coefficients, const torch::Tensor& t, int64_t ndim,
                      const torch::Tensor& like) {
  auto values = coefficients.index_select(0, t.to(torch::kCPU, torch::kLong).flatten());
  std::vector<int64_t> shape(ndim, 1);
  shape[0] = values.size(0);
  return values.view(shape).to(like.device(), like.scalar_type());
}

}  // namespace ddpm

#include "samplers/ddpm.h"

namespace ddpm {

template <>
const EnumTable<VarianceType>& enum_table<VarianceType>() {
  static const EnumTable<VarianceType> table{"variance type",
                                             {{VarianceType::fixed_small, "fixed_small"},
                                              {VarianceType::fixed_large, "fixed_large"},
                                              {VarianceType::learned_range, "learned_range"}}};
  return table;
}

StepResult ddpm_step(const NoiseSchedule& schedule, const DDPMOptions& o,
                     const torch::Tensor& model_output, const torch::Tensor& x_t, int64_t t,
                     int64_t t_prev, const torch::Tensor& noise) {
  const double alpha_bar = schedule.alpha_bar(t);
  const double alpha_bar_prev = schedule.alpha_bar(t_prev);
  const double alpha = alpha_bar / alpha_bar_prev;  // α of the (possibly strided) step
  const double beta = 1.0 - alpha;

  auto a = torch::scalar_tensor(alpha_bar, torch::kFloat64);
  const bool learned = o.variance_type == VarianceType::learned_range;
  const int64_t C = x_t.size(1);
  TORCH_CHECK(!learned || model_output.size(1) == 2 * C,
              "ddpm_step: variance_type learned_range needs a network with 2 x ", C,
              " output channels (prediction, then v), got ", model_output.size(1));
  const auto prediction = learned ? model_output.narrow(1, 0, C) : model_output;
  auto x0 = split_prediction(o.prediction_type, prediction, x_t, a).x0;
  if (o.clip_sample) x0 = x0.clamp(-o.clip_range, o.clip_range);

  // μ̃_t(x_t, x̂_0), DDPM eq. (7)
  const double coef_x0 = std::sqrt(alpha_bar_prev) * beta / (1.0 - alpha_bar);
  const double coef_xt = std::sqrt(alpha) * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar);
  auto prev = coef_x0 * x0 + coef_xt * x_t;

  if (t > 0) {
    TORCH_CHECK(noise.defined(), "ddpm_step: noise is required for t > 0");
    double variance = (1.0 - alpha_bar_prev) / (1.0 - alpha_bar) * beta;  // β̃, eq. (7)
    variance = std::max(variance, 1e-20);
    if (o.variance_type == VarianceType::fixed_large) variance = beta;
    if (learned) {
      // improved DDPM eq. (15); improved-diffusion p_mean_variance, LEARNED_RANGE (min_log is
      // posterior_log_variance_clipped, which differs from log β̃ only at t = 0: no noise there).
      auto v = model_output.narrow(1, C, C).to(torch::kFloat32);
      auto frac = (v + 1) / 2;
      auto log_variance = frac * std::log(beta) + (1 - frac) * std::log(variance);
      prev = prev + torch::exp(0.5 * log_variance) * noise;  // Algorithm 2, line 4
    } else {
      prev = prev + std::sqrt(variance) * noise;  // Algorithm 2, line 4
    }
  }
  return {prev, x0};
}

int64_t previous_timestep(const std::vector<int64_t>& timesteps, size_t i, int64_t stride) {
  if (i + 1 >= timesteps.size()) return -1;
  if (stride > 0) return std::max<int64_t>(timesteps[i] - stride, -1);
  return timesteps[i + 1];
}

torch::Tensor ddpm_sample(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                          const DDPMOptions& options, const std::vector<int64_t>& timesteps,
                          torch::Tensor x, const NoiseFn& noise, const StepCallback& on_step) {
  TORCH_CHECK(!timesteps.empty(), "ddpm_sample: no timesteps");
  const int64_t n = int64_t(timesteps.size());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = timesteps[i];
    const int64_t t_prev = previous_timestep(timesteps, size_t(i), options.prev_timestep_stride);
    auto out = denoise(x, step_labels(double(t), x.size(0), x.device()));
    auto z = t > 0 ? noise(x) : torch::Tensor();
    auto step = ddpm_step(schedule, options, out, x, t, t_prev, z);
    if (on_step) on_step({i, n, double(t), x, step.pred_x0, step.prev_sample});
    x = step.prev_sample;
  }
  return x;
}

}  // namespace ddpm

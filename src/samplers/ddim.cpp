#include "samplers/ddim.h"

namespace ddpm {

StepResult ddim_step(const NoiseSchedule& schedule, const DDIMOptions& o,
                     const torch::Tensor& model_output, const torch::Tensor& x_t, int64_t t,
                     int64_t t_prev, const torch::Tensor& noise) {
  const double alpha_bar = schedule.alpha_bar(t);
  const double alpha_bar_prev =
      t_prev >= 0 ? schedule.alpha_bar(t_prev) : (o.set_alpha_to_one ? 1.0 : schedule.alpha_bar(0));

  auto a = torch::scalar_tensor(alpha_bar, torch::kFloat64);
  auto pred = split_prediction(o.prediction_type, model_output, x_t, a);
  auto x0 = o.clip_sample ? pred.x0.clamp(-o.clip_range, o.clip_range) : pred.x0;

  // DDIM eq. (16)
  const double variance =
      (1.0 - alpha_bar_prev) / (1.0 - alpha_bar) * (1.0 - alpha_bar / alpha_bar_prev);
  const double sigma = o.eta * std::sqrt(std::max(variance, 0.0));
  // DDIM eq. (12); max(·, 0) guards the rounding when σ² reaches 1 − ᾱ_{t'} at η = 1.
  const double dir_coef = std::sqrt(std::max(1.0 - alpha_bar_prev - sigma * sigma, 0.0));
  // improved-diffusion _predict_eps_from_xstart: ε̂ = (x_t − √ᾱ_t x̂_0)/√(1 − ᾱ_t), DDPM eq. (4)
  // solved for ε with the clipped x̂_0.
  auto eps = o.use_clipped_model_output && o.clip_sample
                 ? (x_t - std::sqrt(alpha_bar) * x0) / std::sqrt(1.0 - alpha_bar)
                 : pred.eps;
  auto prev = std::sqrt(alpha_bar_prev) * x0 + dir_coef * eps;
  if (sigma > 0) {
    TORCH_CHECK(noise.defined(), "ddim_step: noise is required for eta > 0");
    prev = prev + sigma * noise;
  }
  return {prev, x0};
}

torch::Tensor ddim_sample(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                          const DDIMOptions& options, const std::vector<int64_t>& timesteps,
                          torch::Tensor x, const NoiseFn& noise, const StepCallback& on_step) {
  TORCH_CHECK(!timesteps.empty(), "ddim_sample: no timesteps");
  TORCH_CHECK(options.eta >= 0.0 && options.eta <= 1.0, "eta must be in [0, 1], got ", options.eta);
  const int64_t n = int64_t(timesteps.size());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = timesteps[i];
    const int64_t t_prev = previous_timestep(timesteps, size_t(i), options.prev_timestep_stride);
    auto out = denoise(x, step_labels(double(t), x.size(0), x.device()));
    auto z = options.eta > 0 ? noise(x) : torch::Tensor();
    auto step = ddim_step(schedule, options, out, x, t, t_prev, z);
    if (on_step) on_step({i, n, double(t), x, step.pred_x0, step.prev_sample});
    x = step.prev_sample;
  }
  return x;
}

}  // namespace ddpm

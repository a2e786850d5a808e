#include "samplers/ddim_inversion.h"

namespace ddpm {

InversionStep ddim_inversion_step(const NoiseSchedule& schedule, const DDIMInversionOptions& o,
                                  const torch::Tensor& model_output,
                                  const torch::Tensor& model_input, const torch::Tensor& x_t,
                                  int64_t t, int64_t t_next) {
  TORCH_CHECK(t_next > t && t_next < schedule.num_train_timesteps,
              "ddim_inversion_step: expected t < t_next < T = ", schedule.num_train_timesteps,
              ", got t = ", t, " and t_next = ", t_next);
  const double alpha_bar =
      t >= 0 ? schedule.alpha_bar(t) : (o.set_alpha_to_one ? 1.0 : schedule.alpha_bar(0));
  const double alpha_bar_next = schedule.alpha_bar(t_next);
  // ε̂ as the network states it for its input at the label t′ (for sample / v prediction the
  // conversion uses ᾱ_{t′}, the level the label claims).
  auto a_next = torch::scalar_tensor(alpha_bar_next, torch::kFloat64);
  auto eps = split_prediction(o.prediction_type, model_output, model_input, a_next).eps;
  // x̂_0 from x_t at its own level: DDPM eq. (15).
  auto x0 = (x_t - std::sqrt(1.0 - alpha_bar) * eps) / std::sqrt(alpha_bar);
  // DDIM eq. (12) with σ = 0, towards the noisier level.
  auto next = std::sqrt(alpha_bar_next) * x0 + std::sqrt(1.0 - alpha_bar_next) * eps;
  return {next, x0};
}

torch::Tensor ddim_invert(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                          const DDIMInversionOptions& options,
                          const std::vector<int64_t>& timesteps, torch::Tensor x,
                          const StepCallback& on_step) {
  TORCH_CHECK(!timesteps.empty(), "ddim_invert: no timesteps");
  TORCH_CHECK(options.fixed_point_iterations >= 0,
              "ddim_invert: fixed_point_iterations must be >= 0, got ",
              options.fixed_point_iterations);
  for (size_t i = 1; i < timesteps.size(); ++i)
    TORCH_CHECK(timesteps[i] < timesteps[i - 1],
                "ddim_invert: timesteps must be strictly descending (as for sampling), got ",
                timesteps[i - 1], " then ", timesteps[i]);
  const int64_t n = int64_t(timesteps.size());
  int64_t t = -1;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t_next = timesteps[n - 1 - i];
    auto t_batch = step_labels(double(t_next), x.size(0), x.device());
    auto step = ddim_inversion_step(schedule, options, denoise(x, t_batch), x, x, t, t_next);
    for (int64_t k = 0; k < options.fixed_point_iterations; ++k)
      step = ddim_inversion_step(schedule, options, denoise(step.next_sample, t_batch),
                                 step.next_sample, x, t, t_next);
    if (on_step) on_step({i, n, double(t_next), x, step.pred_x0, step.next_sample});
    x = step.next_sample;
    t = t_next;
  }
  return x;
}

}  // namespace ddpm

// Reference: diffusers 0.21.4 HeunDiscreteScheduler.set_timesteps (the repeat_interleave'd
// timesteps and sigmas) and step (state_in_first_order / second order).
#include "samplers/heun.h"

#include "samplers/sigma_prediction.h"

namespace ddpm {

torch::Tensor heun_sample(const SamplerConfig& c, const SamplerInputs& in, const SigmaGrid& g,
                          torch::Tensor x) {
  const int64_t n = int64_t(g.timesteps.size());
  auto predict = [&](const torch::Tensor& sample, double sigma, double t) {
    auto out = in.denoise(to_model_scaling(sample, sigma),
                          step_labels(t, sample.size(0), sample.device()));
    auto x0 = sigma_pred_x0(in.prediction, out, sample, sigma);
    return c.clip_sample ? x0.clamp(-c.clip_range, c.clip_range) : x0;
  };
  for (int64_t i = 0; i < n; ++i) {
    const double sigma = g.sigmas[size_t(i)], sigma_next = g.sigmas[size_t(i + 1)];
    const double dt = sigma_next - sigma;
    auto x0 = predict(x, sigma, g.timesteps[size_t(i)]);
    auto derivative = (x - x0) / sigma;
    auto next = x + derivative * dt;
    if (i + 1 < n) {  // second order: the slope at the Euler point, at the next grid step
      auto x0_next = predict(next, sigma_next, g.timesteps[size_t(i + 1)]);
      auto derivative_next = (next - x0_next) / sigma_next;
      next = x + (derivative + derivative_next) / 2 * dt;
    }
    if (in.on_step)
      in.on_step({i, n, g.timesteps[size_t(i)], to_model_scaling(x, sigma), x0,
                  to_model_scaling(next, sigma_next)});
    x = next;
  }
  return x;
}

}  // namespace ddpm

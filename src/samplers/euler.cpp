// Reference: diffusers 0.21.4 EulerDiscreteScheduler.step and scale_model_input.
#include "samplers/euler.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "samplers/sigma_prediction.h"

namespace ddpm {

torch::Tensor euler_sample(const SamplerConfig& c, const SamplerInputs& in, const SigmaGrid& g,
                           torch::Tensor x) {
  const int64_t n = int64_t(g.timesteps.size());
  if (c.s_churn > 0 && !in.noise)
    throw std::invalid_argument("euler with s_churn > 0 needs a noise source");
  for (int64_t i = 0; i < n; ++i) {
    const double sigma = g.sigmas[size_t(i)], sigma_next = g.sigmas[size_t(i + 1)];
    const auto x_in = to_model_scaling(x, sigma);
    auto out = in.denoise(x_in, step_labels(g.timesteps[size_t(i)], x.size(0), x.device()));
    // γ = min(s_churn / (len(sigmas) − 1), √2 − 1) where s_tmin ≤ σ ≤ s_tmax.
    const double gamma =
        c.s_tmin <= sigma && sigma <= c.s_tmax
            ? std::min(c.s_churn / double(g.sigmas.size() - 1), std::sqrt(2.0) - 1.0)
            : 0.0;
    const double sigma_hat = sigma * (gamma + 1.0);
    // With churn on, every step draws (as diffusers' step does), so a seed's stream of draws
    // does not depend on which steps fall inside [s_tmin, s_tmax].
    const auto z = c.s_churn > 0 ? in.noise(x) : torch::Tensor();
    if (gamma > 0) x = x + z * c.s_noise * std::sqrt(sigma_hat * sigma_hat - sigma * sigma);
    // x̂_0 with σ̂ for ε (the sample now sits at σ̂), σ for v, as diffusers.
    auto x0 = in.prediction == PredictionType::epsilon
                  ? x - sigma_hat * out
                  : sigma_pred_x0(in.prediction, out, x, sigma);
    auto derivative = (x - x0) / sigma_hat;
    auto next = x + derivative * (sigma_next - sigma_hat);
    if (in.on_step)
      in.on_step({i, n, g.timesteps[size_t(i)], x_in, x0, to_model_scaling(next, sigma_next)});
    x = next;
  }
  return x;
}

}  // namespace ddpm

// Reference: diffusers 0.21.4 EulerAncestralDiscreteScheduler.step. diffusers leaves
// prediction_type "sample" unimplemented there; here it is x̂_0 = the output, as in Euler.
#include "samplers/euler_ancestral.h"

#include <cmath>
#include <stdexcept>

#include "samplers/sigma_prediction.h"

namespace ddpm {

torch::Tensor euler_ancestral_sample(const SamplerConfig&, const SamplerInputs& in,
                                     const SigmaGrid& g, torch::Tensor x) {
  if (!in.noise) throw std::invalid_argument("euler-ancestral needs a noise source");
  const int64_t n = int64_t(g.timesteps.size());
  for (int64_t i = 0; i < n; ++i) {
    const double sigma = g.sigmas[size_t(i)], sigma_to = g.sigmas[size_t(i + 1)];
    const auto x_in = to_model_scaling(x, sigma);
    auto out = in.denoise(x_in, step_labels(g.timesteps[size_t(i)], x.size(0), x.device()));
    auto x0 = sigma_pred_x0(in.prediction, out, x, sigma);
    const double sigma_up =
        std::sqrt(sigma_to * sigma_to * (sigma * sigma - sigma_to * sigma_to) / (sigma * sigma));
    const double sigma_down = std::sqrt(std::max(sigma_to * sigma_to - sigma_up * sigma_up, 0.0));
    auto derivative = (x - x0) / sigma;
    auto next = x + derivative * (sigma_down - sigma) + in.noise(x) * sigma_up;
    if (in.on_step)
      in.on_step({i, n, g.timesteps[size_t(i)], x_in, x0, to_model_scaling(next, sigma_to)});
    x = next;
  }
  return x;
}

}  // namespace ddpm

#include "experiments/reverse_chain.h"

#include <algorithm>

namespace ddpm {

DDIMOptions ddim_options(const SamplingConfig& s, PredictionType prediction) {
  DDIMOptions o;
  o.eta = s.eta;
  o.prediction_type = prediction;
  o.clip_sample = s.clip_sample;
  o.clip_range = s.clip_range;
  o.set_alpha_to_one = s.set_alpha_to_one;
  return o;
}

DDPMOptions ddpm_options(const SamplingConfig& s, PredictionType prediction) {
  DDPMOptions o;
  o.variance_type = s.variance_type;
  o.prediction_type = prediction;
  o.clip_sample = s.clip_sample;
  o.clip_range = s.clip_range;
  return o;
}

std::vector<int64_t> chain_from(int64_t t_start, int64_t num_steps) {
  if (t_start < 0 || num_steps < 0)
    throw std::invalid_argument("chain_from: expected t_start >= 0 and num_steps >= 0, got " +
                                std::to_string(t_start) + " and " + std::to_string(num_steps));
  std::vector<int64_t> ts;
  if (num_steps == 0 || num_steps >= t_start + 1) {
    for (int64_t t = t_start; t >= 0; --t) ts.push_back(t);
    return ts;
  }
  if (num_steps == 1) return {t_start};
  for (int64_t i = 0; i < num_steps; ++i)
    ts.push_back(std::llround(double(t_start) * double(num_steps - 1 - i) / double(num_steps - 1)));
  ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
  return ts;
}

torch::Tensor run_reverse_chain(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                                PredictionType prediction, const SamplingConfig& sampling,
                                const std::vector<int64_t>& timesteps, torch::Tensor x,
                                torch::Generator& generator, bool shared_noise,
                                const StepCallback& on_step) {
  const bool ddim = sampling.sampler == SamplerKind::ddim;
  if (!shared_noise) {
    if (ddim)
      return ddim_sample(denoise, schedule, ddim_options(sampling, prediction), timesteps, x,
                         generator, on_step);
    return ddpm_sample(denoise, schedule, ddpm_options(sampling, prediction), timesteps, x,
                       generator, on_step);
  }
  TORCH_CHECK(!timesteps.empty(), "run_reverse_chain: no timesteps");
  const auto ddim_o = ddim_options(sampling, prediction);
  const auto ddpm_o = ddpm_options(sampling, prediction);
  const int64_t n = int64_t(timesteps.size());
  auto one = x.sizes().vec();
  one[0] = 1;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = timesteps[i];
    const int64_t t_prev = i + 1 < n ? timesteps[i + 1] : -1;
    auto t_batch = torch::full({x.size(0)}, t, torch::TensorOptions().dtype(torch::kLong));
    auto out = denoise(x, t_batch.to(x.device()));
    const bool draws = ddim ? sampling.eta > 0 : t > 0;  // as ddim_sample / ddpm_sample
    auto z = draws ? draw_noise(one, x.options(), generator).expand_as(x) : torch::Tensor();
    auto step = ddim ? ddim_step(schedule, ddim_o, out, x, t, t_prev, z)
                     : ddpm_step(schedule, ddpm_o, out, x, t, t_prev, z);
    if (on_step) on_step({i, n, t, x, step.pred_x0, step.prev_sample});
    x = step.prev_sample;
  }
  return x;
}

}  // namespace ddpm

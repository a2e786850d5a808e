#include "samplers/sampler_registry.h"

#include <stdexcept>

#include "samplers/ddim.h"
#include "samplers/ddpm.h"

namespace ddpm {

namespace {

/// diffusers' T//N stride when the chain is the sampler's own grid of a diffusers spacing.
int64_t prev_stride(const SamplerConfig& c, int64_t T, int64_t num_steps, bool own_grid) {
  if (!own_grid || c.ddim_prev_timestep != PrevTimestep::diffusers ||
      c.timestep_spacing == TimestepSpacing::quadratic)
    return 0;
  return T / num_steps;
}

NoiseFn require_noise(const SamplerInputs& in, bool stochastic, SamplerKind kind) {
  if (stochastic && !in.noise)
    throw std::invalid_argument("sampler " + to_string(kind) +
                                " is stochastic here and needs a noise source");
  return in.noise;
}

/// DDPM's and DDIM's grid: the training steps of the spacing (ddpm with 0 steps: all T).
std::vector<int64_t> discrete_grid(const SamplerConfig& c, int64_t T) {
  return inference_timesteps(c.timestep_spacing, T, c.steps > 0 ? c.steps : T, c.steps_offset);
}

}  // namespace

std::vector<double> sampler_timesteps(const SamplerConfig& c, int64_t T) {
  validate_sampler_config(c, T);
  switch (c.kind) {
    case SamplerKind::ddpm:
    case SamplerKind::ddim: {
      const auto grid = discrete_grid(c, T);
      return std::vector<double>(grid.begin(), grid.end());
    }
  }
  throw std::logic_error("sampler_timesteps: unhandled sampler");
}

int64_t network_evaluations(const SamplerConfig& c, int64_t T) {
  validate_sampler_config(c, T);
  switch (c.kind) {
    case SamplerKind::ddpm:
    case SamplerKind::ddim:
      return int64_t(discrete_grid(c, T).size());
  }
  throw std::logic_error("network_evaluations: unhandled sampler");
}

torch::Tensor run_sampler(const SamplerConfig& c, const SamplerInputs& in, torch::Tensor x,
                          const std::vector<int64_t>& timesteps, SamplerStart start) {
  const int64_t T = in.schedule.num_train_timesteps;
  validate_sampler_config(c, T);
  const bool own_grid = timesteps.empty();
  const auto ts = own_grid ? discrete_grid(c, T) : timesteps;
  for (size_t i = 0; i < ts.size(); ++i)
    if (ts[i] < 0 || ts[i] >= T || (i > 0 && ts[i] >= ts[i - 1]))
      throw std::invalid_argument("run_sampler: timesteps must be strictly descending in [0, " +
                                  std::to_string(T) + ")");
  (void)start;  // DDPM and DDIM have init_noise_sigma 1: noise and samples need no rescaling
  const int64_t stride = prev_stride(c, T, int64_t(ts.size()), own_grid);
  switch (c.kind) {
    case SamplerKind::ddpm: {
      DDPMOptions o;
      o.variance_type = c.variance_type;
      o.prediction_type = in.prediction;
      o.clip_sample = c.clip_sample;
      o.clip_range = c.clip_range;
      o.prev_timestep_stride = stride;
      return ddpm_sample(in.denoise, in.schedule, o, ts, x, require_noise(in, true, c.kind),
                         in.on_step);
    }
    case SamplerKind::ddim: {
      DDIMOptions o;
      o.eta = c.eta;
      o.prediction_type = in.prediction;
      o.clip_sample = c.clip_sample;
      o.clip_range = c.clip_range;
      o.set_alpha_to_one = c.set_alpha_to_one;
      o.prev_timestep_stride = stride;
      return ddim_sample(in.denoise, in.schedule, o, ts, x, require_noise(in, c.eta > 0, c.kind),
                         in.on_step);
    }
  }
  throw std::logic_error("run_sampler: unhandled sampler");
}

}  // namespace ddpm

#include "samplers/sampler_registry.h"

#include <stdexcept>

#include <cmath>

#include "samplers/ddim.h"
#include "samplers/ddpm.h"
#include "samplers/dpm_solver.h"
#include "samplers/euler.h"
#include "samplers/euler_ancestral.h"
#include "samplers/heun.h"
#include "samplers/pndm.h"
#include "samplers/solver_grids.h"
#include "samplers/unipc.h"

namespace ddpm {

namespace {

/// diffusers' T//N stride when the chain is the sampler's own grid of a diffusers spacing.
int64_t prev_stride(const SamplerConfig& c, int64_t T, int64_t num_steps, bool own_grid) {
  if (!own_grid || c.ddim_prev_timestep != PrevTimestep::diffusers ||
      !is_diffusers_spacing(c.timestep_spacing))
    return 0;
  return T / num_steps;
}

/// DDPM's and DDIM's grid: the training steps of the spacing (ddpm with 0 steps: all T).
std::vector<int64_t> discrete_grid(const SamplerConfig& c, int64_t T) {
  return inference_timesteps(c.timestep_spacing, T, c.steps > 0 ? c.steps : T, c.steps_offset);
}

/// The step labels of the chain's on_step calls and its network calls, on the own grid.
struct GridSummary {
  std::vector<double> labels;
  int64_t calls = 0;
};

torch::Tensor run_sampler_on(const SamplerConfig& c, const SamplerInputs& in, torch::Tensor x,
                             const std::vector<int64_t>& timesteps, SamplerStart start);

GridSummary own_grid(const SamplerConfig& c, const NoiseSchedule& schedule) {
  const int64_t T = schedule.num_train_timesteps;
  GridSummary g;
  switch (c.kind) {
    case SamplerKind::ddpm:
    case SamplerKind::ddim: {
      const auto grid = discrete_grid(c, T);
      g.labels.assign(grid.begin(), grid.end());
      g.calls = int64_t(grid.size());
      break;
    }
    case SamplerKind::dpm_solver_pp:
    case SamplerKind::dpm_solver:
    case SamplerKind::sde_dpm_solver_pp:
    case SamplerKind::unipc: {
      const auto grid = multistep_timesteps(c, schedule);
      g.labels.assign(grid.begin(), grid.end());
      g.calls = int64_t(grid.size());
      break;
    }
    case SamplerKind::euler:
    case SamplerKind::euler_ancestral:
    case SamplerKind::heun: {
      g.labels = sigma_grid(c, schedule).timesteps;
      const auto n = int64_t(g.labels.size());
      g.calls = c.kind == SamplerKind::heun ? 2 * n - 1 : n;
      break;
    }
    case SamplerKind::pndm: {
      const auto grid = pndm_timesteps(c, T);
      g.labels.assign(grid.begin(), grid.end());
      g.calls = int64_t(grid.size());
      break;
    }
  }
  return g;
}

}  // namespace

std::vector<double> sampler_timesteps(const SamplerConfig& c, const NoiseSchedule& schedule) {
  validate_sampler_config(c, schedule.num_train_timesteps);
  return own_grid(c, schedule).labels;
}

int64_t network_evaluations(const SamplerConfig& c, const NoiseSchedule& schedule) {
  validate_sampler_config(c, schedule.num_train_timesteps);
  return own_grid(c, schedule).calls;
}

torch::Tensor run_sampler(const SamplerConfig& c, const SamplerInputs& in, torch::Tensor x,
                          const std::vector<int64_t>& timesteps, SamplerStart start) {
  const int64_t T = in.schedule.num_train_timesteps;
  validate_sampler_config(c, T);
  for (size_t i = 0; i < timesteps.size(); ++i)
    if (timesteps[i] < 0 || timesteps[i] >= T || (i > 0 && timesteps[i] >= timesteps[i - 1]))
      throw std::invalid_argument("run_sampler: timesteps must be strictly descending in [0, " +
                                  std::to_string(T) + ")");
  if (is_stochastic(c.kind, c.eta, c.s_churn) && !in.noise)
    throw std::invalid_argument("sampler " + to_string(c.kind) +
                                " is stochastic here and needs a noise source");
  // A network that learns its variances returns [prediction, v] (2·C channels). DDPM with
  // learned_range uses v (improved DDPM eq. 15); every other sampler and variance takes the
  // prediction channels, as improved-diffusion's ddim_sample does (p_mean_variance's split).
  const bool learned =
      c.kind == SamplerKind::ddpm && c.variance_type == VarianceType::learned_range;
  const DenoiseFn denoise = learned ? in.denoise : prediction_channels(in.denoise);
  SamplerInputs inputs{denoise, in.schedule, in.prediction, in.noise, in.on_step};
  return run_sampler_on(c, inputs, x, timesteps, start);
}

DenoiseFn prediction_channels(DenoiseFn denoise) {
  return [denoise = std::move(denoise)](const torch::Tensor& x, const torch::Tensor& t) {
    auto out = denoise(x, t);
    return out.size(1) == 2 * x.size(1) ? out.narrow(1, 0, x.size(1)) : out;  // [B, C, H, W]
  };
}

namespace {

torch::Tensor run_sampler_on(const SamplerConfig& c, const SamplerInputs& in, torch::Tensor x,
                             const std::vector<int64_t>& timesteps, SamplerStart start) {
  const int64_t T = in.schedule.num_train_timesteps;
  const bool own = timesteps.empty();
  switch (c.kind) {
    case SamplerKind::ddpm: {
      // DDPM and DDIM have init_noise_sigma 1: noise and samples need no rescaling.
      const auto ts = own ? discrete_grid(c, T) : timesteps;
      DDPMOptions o;
      o.variance_type = c.variance_type;
      o.prediction_type = in.prediction;
      o.clip_sample = c.clip_sample;
      o.clip_range = c.clip_range;
      o.prev_timestep_stride = prev_stride(c, T, int64_t(ts.size()), own);
      return ddpm_sample(in.denoise, in.schedule, o, ts, x, in.noise, in.on_step);
    }
    case SamplerKind::ddim: {
      const auto ts = own ? discrete_grid(c, T) : timesteps;
      DDIMOptions o;
      o.eta = c.eta;
      o.prediction_type = in.prediction;
      o.clip_sample = c.clip_sample;
      o.clip_range = c.clip_range;
      o.set_alpha_to_one = c.set_alpha_to_one;
      o.use_clipped_model_output = c.use_clipped_model_output;
      o.prev_timestep_stride = prev_stride(c, T, int64_t(ts.size()), own);
      return ddim_sample(in.denoise, in.schedule, o, ts, x, in.noise, in.on_step);
    }
    case SamplerKind::dpm_solver_pp:
    case SamplerKind::dpm_solver:
    case SamplerKind::sde_dpm_solver_pp:
    case SamplerKind::unipc: {
      // init_noise_sigma 1. Their chains end at step 0 themselves: a given chain's final 0 is
      // that end, not a step (it would be a step of length 0).
      auto ts = own ? multistep_timesteps(c, in.schedule) : timesteps;
      if (!own && ts.size() > 1 && ts.back() == 0) ts.pop_back();
      return c.kind == SamplerKind::unipc ? unipc_sample(c, in, ts, x)
                                          : dpm_solver_sample(c, in, ts, x);
    }
    case SamplerKind::euler:
    case SamplerKind::euler_ancestral:
    case SamplerKind::heun: {
      const auto grid = own ? sigma_grid(c, in.schedule) : sigma_grid_at(timesteps, in.schedule);
      const double sigma0 = grid.sigmas.front();
      x = x * (start == SamplerStart::noise && own ? sigma_init_noise(c, grid)
               : start == SamplerStart::noise      ? sigma0
                                                   : std::sqrt(sigma0 * sigma0 + 1.0));
      if (c.kind == SamplerKind::euler) return euler_sample(c, in, grid, x);
      if (c.kind == SamplerKind::heun) return heun_sample(c, in, grid, x);
      return euler_ancestral_sample(c, in, grid, x);
    }
    case SamplerKind::pndm:
      if (!own)
        throw std::invalid_argument(
            "sampler pndm runs only its own grid (its warm-up is tied to it), so it cannot start "
            "mid-chain; use ddim, ddpm, dpm-solver++, unipc, euler or heun");
      return pndm_sample(c, in, x);
  }
  throw std::logic_error("run_sampler: unhandled sampler");
}

}  // namespace

}  // namespace ddpm

// The one place that knows the samplers: from a SamplerConfig to "run the chain". Callers
// (generation, trajectories, reconstructions, interpolations, sweeps, the study, the benchmark)
// build a config and call run_sampler; none of them tests a sampler kind.
//
//   SamplerInputs in{denoise, schedule, PredictionType::epsilon, per_image_noise(gens)};
//   auto x0 = run_sampler(config, in, x_T);                       // x_T: unit-variance noise
//   auto rec = run_sampler(config, in, x_t, chain_from(499, 50), SamplerStart::sample);
#pragma once
#include <torch/torch.h>

#include <vector>

#include "core/noise_schedule.h"
#include "core/prediction.h"
#include "samplers/denoise_fn.h"
#include "samplers/sampler_config.h"
#include "samplers/sampler_inputs.h"

namespace ddpm {

/// Runs the reverse chain and returns x_0 in the model's scaling. `timesteps` (descending training
/// steps) replaces the sampler's own grid when not empty, e.g. to start at an intermediate step;
/// DDPM/DDIM then step to the next entry. Throws std::invalid_argument for a config that cannot
/// run on the schedule (validate_sampler_config) or a missing NoiseFn for a stochastic sampler.
/// A network with 2·C output channels learns its variances (improved DDPM): ddpm with
/// variance_type learned_range uses them, every other sampler its first C channels.
torch::Tensor run_sampler(const SamplerConfig& config, const SamplerInputs& inputs, torch::Tensor x,
                          const std::vector<int64_t>& timesteps = {},
                          SamplerStart start = SamplerStart::noise);

/// `denoise` returning only the prediction channels of a network that learns its variances
/// ([prediction, v], 2·C channels: the first C); other networks' outputs pass unchanged.
DenoiseFn prediction_channels(DenoiseFn denoise);

/// The step labels t of the chain's steps on the sampler's own grid, descending: one per on_step
/// call (fractional for sigma samplers with Karras σ). Throws like validate_sampler_config.
std::vector<double> sampler_timesteps(const SamplerConfig& config, const NoiseSchedule& schedule);

/// Network evaluations of one chain of the sampler's own grid (the cost axis of a sweep).
int64_t network_evaluations(const SamplerConfig& config, const NoiseSchedule& schedule);

}  // namespace ddpm

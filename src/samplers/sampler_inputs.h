// What a chain needs besides its SamplerConfig: the network, the noise schedule, what the
// network predicts, where randomness comes from and who watches the steps. Shared by the
// registry (samplers/sampler_registry.h) and every algorithm file.
#pragma once
#include "core/noise_schedule.h"
#include "core/prediction.h"
#include "samplers/denoise_fn.h"

namespace ddpm {

/// What a chain needs besides its config. Multistep solvers keep their history inside the run.
struct SamplerInputs {
  DenoiseFn denoise;
  const NoiseSchedule& schedule;
  PredictionType prediction = PredictionType::epsilon;
  /// Draws for stochastic samplers; may be empty for deterministic ones.
  NoiseFn noise;
  StepCallback on_step;
};

/// What `x` given to a sampler is.
enum class SamplerStart {
  /// Unit-variance noise x_T; the sampler scales it by its own init_noise_sigma, as diffusers'
  /// pipelines do (latents * scheduler.init_noise_sigma).
  noise,
  /// A sample in the model's variance-preserving scaling at the chain's first step (e.g. an
  /// image noised with q(x_t|x_0)); sigma samplers rescale it by √(σ² + 1).
  sample,
};

}  // namespace ddpm

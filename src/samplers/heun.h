// Heun's second-order method on the probability-flow ODE (Karras et al. 2022, Algorithm 1):
// an Euler step to σ_next, the slope re-evaluated there, and the step redone with the mean of
// the two slopes; the last step (to σ = 0) stays first-order — 2N − 1 network calls for N steps.
// diffusers 0.21.4 HeunDiscreteScheduler (scheduling_heun_discrete.py), whose timesteps list
// repeats each inner step for the second evaluation.
#pragma once
#include <torch/torch.h>

#include "samplers/sampler_config.h"
#include "samplers/sampler_inputs.h"
#include "samplers/solver_grids.h"

namespace ddpm {

/// Runs Heun over `grid` from x in sigma space at grid.sigmas[0]; one on_step per grid step.
torch::Tensor heun_sample(const SamplerConfig& config, const SamplerInputs& inputs,
                          const SigmaGrid& grid, torch::Tensor x);

}  // namespace ddpm

// Ancestral Euler (k-diffusion's sample_euler_ancestral): an Euler step down to σ_down, then
// fresh noise of scale σ_up, with σ_up² = σ_next²(σ² − σ_next²)/σ² and σ_down² + σ_up² =
// σ_next² — diffusers 0.21.4 EulerAncestralDiscreteScheduler
// (scheduling_euler_ancestral_discrete.py).
#pragma once
#include <torch/torch.h>

#include "samplers/sampler_config.h"
#include "samplers/sampler_inputs.h"
#include "samplers/solver_grids.h"

namespace ddpm {

/// Runs ancestral Euler over `grid` from x in sigma space at grid.sigmas[0].
torch::Tensor euler_ancestral_sample(const SamplerConfig& config, const SamplerInputs& inputs,
                                     const SigmaGrid& grid, torch::Tensor x);

}  // namespace ddpm

// Euler's method on the probability-flow ODE dx/dσ = (x − x̂_0)/σ (Karras et al. 2022,
// Algorithm 2, with its optional "churn": noise added to raise σ to σ̂ = σ(1 + γ) first) —
// diffusers 0.21.4 EulerDiscreteScheduler (scheduling_euler_discrete.py).
#pragma once
#include <torch/torch.h>

#include "samplers/sampler_config.h"
#include "samplers/sampler_inputs.h"
#include "samplers/solver_grids.h"

namespace ddpm {

/// Runs Euler over `grid` from x in sigma space at grid.sigmas[0]; returns x at the last σ.
torch::Tensor euler_sample(const SamplerConfig& config, const SamplerInputs& inputs,
                           const SigmaGrid& grid, torch::Tensor x);

}  // namespace ddpm

// Pseudo numerical methods (PNDM, Liu et al. 2022): the DDIM-style transfer φ applied with a
// Runge–Kutta warm-up (PRK, 3 steps of 4 evaluations) then linear multistep (PLMS, the
// Adams–Bashforth weights 55/−59/37/−9 over the last four ε̂), or PLMS from the start with
// skip_prk_steps — diffusers 0.21.4 PNDMScheduler (scheduling_pndm.py). PLMS makes N + 1
// network calls for N steps, PRK + PLMS N + 9.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "samplers/sampler_config.h"
#include "samplers/sampler_inputs.h"

namespace ddpm {

/// The training step of each network call, in order (PNDMScheduler.timesteps: PRK's then
/// PLMS's, with the repeats diffusers makes). Throws std::invalid_argument when the grid leaves
/// [0, T) or PRK has fewer than 4 steps.
std::vector<int64_t> pndm_timesteps(const SamplerConfig& config, int64_t num_train_timesteps);

/// Runs PNDM on its own grid from x_T; one on_step per network call.
torch::Tensor pndm_sample(const SamplerConfig& config, const SamplerInputs& inputs,
                          torch::Tensor x);

}  // namespace ddpm

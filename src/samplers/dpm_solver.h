// DPM-Solver (Lu et al. 2022a) and DPM-Solver++ (Lu et al. 2022b), multistep, orders 1–3, and
// the SDE variant SDE-DPM-Solver++ — diffusers 0.21.4 DPMSolverMultistepScheduler
// (scheduling_dpmsolver_multistep.py), algorithm_type dpmsolver, dpmsolver++, sde-dpmsolver++.
//
// In λ_t = log(α_t/σ_t) (α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t)), with h = λ_t − λ_s:
//   DPM-Solver++ 1st order:  x_t = (σ_t/σ_s) x_s − α_t (e^{−h} − 1) x̂_0        (= DDIM, η = 0)
//   DPM-Solver   1st order:  x_t = (α_t/α_s) x_s − σ_t (e^{h} − 1) ε̂
//   SDE-DPM-Solver++:        x_t = (σ_t/σ_s) e^{−h} x_s + α_t (1 − e^{−2h}) x̂_0
//                                  + σ_t √(1 − e^{−2h}) z
// and the multistep 2nd (midpoint/heun) and 3rd order corrections from the model outputs the
// solver keeps (its history never leaves the call). The chain ends at step 0 (not at ᾱ = 1),
// with first-order final steps on grids shorter than 15 when lower_order_final.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "samplers/sampler_config.h"
#include "samplers/sampler_inputs.h"

namespace ddpm {

/// Runs config.kind ∈ {dpm_solver_pp, dpm_solver, sde_dpm_solver_pp} over `timesteps`
/// (descending distinct training steps; the step after the last is 0) from x at the first.
torch::Tensor dpm_solver_sample(const SamplerConfig& config, const SamplerInputs& inputs,
                                const std::vector<int64_t>& timesteps, torch::Tensor x);

}  // namespace ddpm

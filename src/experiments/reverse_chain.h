// The reverse chain from an intermediate step (DDPM §4.3, Figures 8–10 of the DDPM paper: diffuse
// real images to x_t with q(x_t|x_0), then denoise back): the sub-sequence of steps to visit,
// which run_sampler (samplers/sampler_registry.h) walks with SamplerStart::sample.
//
//   auto ts = chain_from(499, 0);   // 499, 498, …, 0: the full chain from t
//   auto x0 = run_sampler(sampling.sampler, inputs, x_t, ts, SamplerStart::sample);
#pragma once
#include <cstdint>
#include <vector>

namespace ddpm {

/// The chain that starts at step index t_start (0-based, < T): every step t_start, …, 0 when
/// num_steps is 0 or ≥ t_start + 1, else num_steps steps evenly spaced from t_start down to 0
/// (rounded, like diffusers' linspace spacing). Descending. Throws for t_start < 0 or num_steps <
/// 0.
std::vector<int64_t> chain_from(int64_t t_start, int64_t num_steps);

}  // namespace ddpm

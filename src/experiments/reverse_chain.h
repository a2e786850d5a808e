// The reverse process as the figures run it: the sampler a SamplingConfig names (DDPM Algorithm 2
// or DDIM eq. 12), from x_T or from an intermediate step t (DDPM §4.3, Figures 8–10 of the DDPM
// paper: diffuse real images to x_t with q(x_t|x_0), then denoise back).
//
//   auto ts = chain_from(499, 0);                        // 499, 498, …, 0: the full chain from t
//   torch::Generator gen = at::detail::createCPUGenerator(seed);
//   auto x0 = run_reverse_chain(denoise, schedule, prediction, sampling, ts, x_t, gen);
#pragma once
#include <torch/torch.h>

#include <vector>

#include "core/noise_schedule.h"
#include "core/prediction.h"
#include "pipeline/run_config.h"
#include "samplers/ddim.h"
#include "samplers/ddpm.h"
#include "samplers/denoise_fn.h"

namespace ddpm {

/// The sampler options a SamplingConfig and a model's prediction type stand for.
DDIMOptions ddim_options(const SamplingConfig& sampling, PredictionType prediction);
DDPMOptions ddpm_options(const SamplingConfig& sampling, PredictionType prediction);

/// The chain that starts at step index t_start (0-based, < T): every step t_start, …, 0 when
/// num_steps is 0 or ≥ t_start + 1, else num_steps steps evenly spaced from t_start down to 0
/// (rounded, like diffusers' linspace spacing). Descending. Throws for t_start < 0 or num_steps <
/// 0.
std::vector<int64_t> chain_from(int64_t t_start, int64_t num_steps);

/// Runs sampling.sampler over `timesteps` (descending) from x. With shared_noise, each step draws
/// one noise image [1, C, H, W] and adds it to every batch element, so that elements differ only
/// by their starting x (rows of an interpolation); otherwise the draws are exactly those of
/// ddpm_sample / ddim_sample. DDIM at η = 0 draws nothing either way.
torch::Tensor run_reverse_chain(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                                PredictionType prediction, const SamplingConfig& sampling,
                                const std::vector<int64_t>& timesteps, torch::Tensor x,
                                torch::Generator& generator, bool shared_noise = false,
                                const StepCallback& on_step = {});

}  // namespace ddpm

// Interpolations between two images, three ways (the report's Figures 9–10 and the DDIM paper's
// §5.3):
//
//   xt         DDPM §4.3 / Figures 9–10: diffuse x_0 and x_0′ to step t with the same noise ε,
//              mix x̄_t = (1 − λ) x_t + λ x_t′ and decode x̄_t with the reverse process. Small t
//              mixes pixels; large t mixes attributes ("coarse-to-fine").
//   slerp      DDIM §5.3: spherical interpolation (core/slerp.h) of two Gaussian x_T, decoded with
//              deterministic DDIM (η = 0), so every λ is one image of the same ODE.
//   inversion  DDIM §5.4 + §5.3: encode x_0 and x_0′ to x_T by DDIM inversion
//              (samplers/ddim_inversion.h), slerp the codes, decode with DDIM η = 0.
//
//   auto lambdas = parse_lambdas("0:1:0.1");               // 0, 0.1, …, 1
//   auto rows = interpolate_xt(denoise, schedule, prediction, ddpm, a, b, {500}, lambdas, 0, gen);
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "core/enum_table.h"
#include "core/noise_schedule.h"
#include "runs/run_config.h"
#include "samplers/denoise_fn.h"

namespace ddpm {

enum class InterpolationMode { xt, slerp, inversion };
template <>
const EnumTable<InterpolationMode>& enum_table<InterpolationMode>();

/// "start:stop:step" (stop included when the steps reach it within 1e-9) or a comma list
/// "0,0.25,1". Every λ must lie in [0, 1]. Throws std::invalid_argument naming the bad part.
std::vector<double> parse_lambdas(const std::string& text);

/// Progress: which decode this is, how many there are, and the sampler's step.
using InterpolateProgress = std::function<void(int64_t part, int64_t parts, const SamplerStep&)>;

/// Mode xt. a, b: float [P, C, H, W] pairs in model space; from_steps in the paper's 1..T. For
/// each t and pair: one forward noise draw [1, C, H, W] shared by both images, the L mixes
/// decoded together by sampling.sampler over chain_from(t − 1, steps) with noise shared across
/// the λ (so columns differ only by λ). Returns float32 CPU [R·P, L, C, H, W], row r·P + p.
torch::Tensor interpolate_xt(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                             PredictionType prediction, const SamplingConfig& sampling,
                             const torch::Tensor& a, const torch::Tensor& b,
                             const std::vector<int64_t>& from_steps,
                             const std::vector<double>& lambdas, int64_t steps,
                             torch::Generator& generator, const InterpolateProgress& progress = {});

/// Modes slerp and inversion: slerp between codes x_T^a, x_T^b ([P, C, H, W]) decoded by DDIM
/// with η = 0 over `timesteps` (other settings from `sampling`). float32 CPU [P, L, C, H, W].
torch::Tensor interpolate_codes(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                                PredictionType prediction, const SamplingConfig& sampling,
                                const std::vector<int64_t>& timesteps, const torch::Tensor& code_a,
                                const torch::Tensor& code_b, const std::vector<double>& lambdas,
                                const InterpolateProgress& progress = {});

/// The figure's cells: rows of `decoded` [rows, L, C, H, W], framed by `left` and `right`
/// ([rows, C, H, W], the source images) when defined → [rows, L (+2), C, H, W].
torch::Tensor interpolation_tiles(const torch::Tensor& decoded, const torch::Tensor& left = {},
                                  const torch::Tensor& right = {});

}  // namespace ddpm

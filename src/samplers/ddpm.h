// DDPM ancestral sampling (Ho et al. 2020, Algorithm 2), over the full chain or a strided one.
//
// Step as in diffusers 0.21.4 DDPMScheduler.step: x̂_0 from the model output (eq. 15), optionally
// clipped, then x_{t'} = μ̃(x_t, x̂_0) + σ z with the posterior between t and the previous visited
// step t' (eq. 7 with ᾱ_t/ᾱ_{t'} as the step's α), σ² = β̃ (fixed_small), β (fixed_large) or the
// network's own Σ_θ (learned_range, improved DDPM eq. 15: the model output's second half of
// channels v gives log σ² = ((v + 1)/2) log β + (1 − (v + 1)/2) log β̃, with the step's β and β̃,
// as improved-diffusion's p_mean_variance on its respaced process).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "core/noise_schedule.h"
#include "core/prediction.h"
#include "samplers/denoise_fn.h"

namespace ddpm {

/// fixed_small (β̃), fixed_large (β), or learned_range: Σ_θ from a network with 2·C output
/// channels [prediction, v] (improved DDPM; diffusers' variance_type "learned_range").
enum class VarianceType { fixed_small, fixed_large, learned_range };
template <>
const EnumTable<VarianceType>& enum_table<VarianceType>();

struct DDPMOptions {
  /// σ_t² = β̃_t (fixed_small, best for fixed_large-free FID in DDPM §4.2) or β_t (fixed_large).
  VarianceType variance_type = VarianceType::fixed_small;
  PredictionType prediction_type = PredictionType::epsilon;
  /// Clip x̂_0 to [−clip_range, clip_range]; right for data scaled to [−1, 1].
  bool clip_sample = true;
  double clip_range = 1.0;
  /// The step after t: t − prev_timestep_stride when > 0 (diffusers 0.21.4's
  /// previous_timestep, t − T//N for N inference steps), the next entry of the sequence when 0.
  int64_t prev_timestep_stride = 0;
};

struct StepResult {
  torch::Tensor prev_sample;  ///< x_{t'}   [B, C, H, W]
  torch::Tensor pred_x0;      ///< x̂_0      [B, C, H, W]
};

/// One reverse step from step index t to t_prev (t_prev < 0: to the clean end). `noise` z is used
/// only when t > 0 and may be undefined otherwise. With learned_range, model_output is
/// [B, 2·C, H, W] (prediction, then v); otherwise [B, C, H, W].
StepResult ddpm_step(const NoiseSchedule& schedule, const DDPMOptions& options,
                     const torch::Tensor& model_output, const torch::Tensor& x_t, int64_t t,
                     int64_t t_prev, const torch::Tensor& noise);

/// Runs Algorithm 2 from x_T over `timesteps` (descending; T−1, …, 0 for the full chain),
/// drawing z from `noise`.
torch::Tensor ddpm_sample(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                          const DDPMOptions& options, const std::vector<int64_t>& timesteps,
                          torch::Tensor x_T, const NoiseFn& noise,
                          const StepCallback& on_step = {});

/// The step a chain over `timesteps` takes after position i: timesteps[i] − stride when stride
/// > 0 (diffusers' rule), else the next entry; −1 (the clean end) after the last.
int64_t previous_timestep(const std::vector<int64_t>& timesteps, size_t i, int64_t stride);

}  // namespace ddpm

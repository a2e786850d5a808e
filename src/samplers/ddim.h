// DDIM sampling (Song et al. 2020) with η over a sub-sequence τ of the training steps.
//
// DDIM eq. (12): x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'} − σ²) ε̂ + σ z, with
// eq. (16): σ = η √((1 − ᾱ_{t'})/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t'}). After the last step ᾱ_{t'} = 1
// (diffusers' set_alpha_to_one), so the chain ends on x̂_0 itself. As in diffusers 0.21.4
// DDIMScheduler.step, ε̂ is the model's own after x̂_0 is clipped. t' is the next step of the
// given sequence or, as diffusers 0.21.4 DDIMScheduler.step computes it, t − T//S
// (prev_timestep_stride; the same for leading spacing, not for linspace or trailing).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "core/noise_schedule.h"
#include "core/prediction.h"
#include "samplers/ddpm.h"
#include "samplers/denoise_fn.h"

namespace ddpm {

struct DDIMOptions {
  /// 0: deterministic DDIM; 1: DDPM-like ancestral noise (DDIM §4.1).
  double eta = 0.0;
  PredictionType prediction_type = PredictionType::epsilon;
  /// Clip x̂_0 to [−clip_range, clip_range]; right for data scaled to [−1, 1].
  bool clip_sample = true;
  double clip_range = 1.0;
  /// ᾱ after the last step: 1 (true; without it the chain ends noisy) or ᾱ_0 (false).
  bool set_alpha_to_one = true;
  /// The step after t: t − prev_timestep_stride when > 0 (diffusers: T//N), else the next entry.
  int64_t prev_timestep_stride = 0;
  /// Re-derive ε̂ from the clipped x̂_0 (diffusers' step(use_clipped_model_output=True);
  /// improved-diffusion's ddim_sample, _predict_eps_from_xstart) instead of the model's own.
  bool use_clipped_model_output = false;
};

/// One DDIM step from step index t to t_prev (t_prev < 0: the clean end). `noise` is used only
/// when η > 0.
StepResult ddim_step(const NoiseSchedule& schedule, const DDIMOptions& options,
                     const torch::Tensor& model_output, const torch::Tensor& x_t, int64_t t,
                     int64_t t_prev, const torch::Tensor& noise);

/// DDIM from x_T over `timesteps` (descending; see inference_timesteps), drawing σz from
/// `noise` when η > 0 (it may be empty at η = 0).
torch::Tensor ddim_sample(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                          const DDIMOptions& options, const std::vector<int64_t>& timesteps,
                          torch::Tensor x_T, const NoiseFn& noise,
                          const StepCallback& on_step = {});

}  // namespace ddpm

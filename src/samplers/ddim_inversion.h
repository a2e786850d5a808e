// Deterministic DDIM inversion: images x_0 → latents x_T by running the η = 0 DDIM update
// (Song et al. 2020, eq. 12 with σ = 0) upward through the same sub-sequence τ that sampling
// walks down. DDIM §4.3 reads η = 0 sampling as an Euler discretisation of the ODE
// d(x/√ᾱ) = ε_θ(x, t) d(√((1−ᾱ)/ᾱ)) (eq. 14), which can be integrated in either direction;
// §5.4 uses exactly this to encode images and reconstruct them.
//
// One upward step, from level t to the next visited level t′ > t (t = −1: the clean image):
//   ε̂ = ε_θ(x_t, t′),   x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t,   x_{t′} = √ᾱ_{t′} x̂_0 + √(1−ᾱ_{t′}) ε̂.
// The network is asked at the target label t′ (diffusers 0.21.4 DDIMInverseScheduler and the
// null-text inversion code do the same), which is also what the decoding step from t′ asks, so
// encoding and decoding differ only by where ε is evaluated: the round-trip error is the local
// error of the Euler step, O(1/S²) per step, and shrinks as the number of steps S grows.
// No clipping of x̂_0: clipping makes the map non-invertible.
//
// Optional fixed-point refinement (`fixed_point_iterations` K > 0; the "exact" or fixed-point
// inversion of e.g. Pan et al. 2023, "Effective Real Image Editing with Accelerated Iterative
// Diffusion Inversion"): after the step above, evaluate ε at the point reached, x_{t′}, and redo
// the step from x_t with it, K times. Its fixed point is the x_{t′} whose decoding step lands
// exactly on x_t, so the round trip becomes exact up to the iteration's convergence, at K more
// network evaluations per step.
//
//   auto ts = inference_timesteps(TimestepSpacing::leading, 1000, 50);   // descending, as sampling
//   auto x_T = ddim_invert(denoise, schedule, options, ts, x0);
//   auto back = ddim_sample(denoise, schedule, {0.0, type, /*clip=*/false}, ts, x_T, gen);
#pragma once
#include <torch/torch.h>

#include <vector>

#include "core/noise_schedule.h"
#include "core/prediction.h"
#include "samplers/denoise_fn.h"

namespace ddpm {

struct DDIMInversionOptions {
  PredictionType prediction_type = PredictionType::epsilon;
  /// ᾱ of the clean end: 1 (matches DDIM sampling with set_alpha_to_one, which ends on x̂_0) or
  /// ᾱ_0 (false), so that decoding with the same setting inverts it.
  bool set_alpha_to_one = true;
  /// Extra network evaluations per step that refine x_{t′} towards the exact inverse of the
  /// decoding step (0: plain DDIM inversion, as DDIM §5.4 and diffusers' DDIMInverseScheduler).
  int64_t fixed_point_iterations = 0;
};

/// One upward step from x_t at step index t (−1: the clean end) to t_next > t, with the model's
/// output `model_output` for the input `model_input` at label t_next (x_t itself for the plain
/// step, the previous estimate of x_{t_next} when refining). Returns x_{t_next} and x̂_0.
struct InversionStep {
  torch::Tensor next_sample;  ///< x_{t′}  [B, C, H, W]
  torch::Tensor pred_x0;      ///< x̂_0     [B, C, H, W]
};
InversionStep ddim_inversion_step(const NoiseSchedule& schedule,
                                  const DDIMInversionOptions& options,
                                  const torch::Tensor& model_output,
                                  const torch::Tensor& model_input, const torch::Tensor& x_t,
                                  int64_t t, int64_t t_next);

/// x_0 → x_T over `timesteps` (descending, as given to ddim_sample; walked from the last to the
/// first). on_step reports each step with t = the target step and x_prev = the sample it leaves
/// with. Throws for an empty or non-descending sequence.
torch::Tensor ddim_invert(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                          const DDIMInversionOptions& options,
                          const std::vector<int64_t>& timesteps, torch::Tensor x0,
                          const StepCallback& on_step = {});

}  // namespace ddpm

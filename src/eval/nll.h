// Negative log-likelihood bound in bits per dimension: the full variational bound
// L_T + Σ_{t>1} L_{t−1} + L_0 of DDPM eq. (5), with the discretized Gaussian decoder of eq. (13),
// evaluated at every one of the T steps (DDPM's diffusion_utils_2.calc_bpd_loop; improved-
// diffusion's GaussianDiffusion.calc_bpd_loop). The terms themselves are core/vlb.h.
//
//   BpdOptions o;  o.prediction_type = loaded.config.prediction_type;
//   auto r = calc_bpd_loop(make_denoise_fn(loaded.model, loaded.schedule), loaded.schedule, o,
//                          x0, generator);   // x0: [B, C, H, W], uint8 data rescaled to [−1, 1]
//   r.total.mean()  // bits/dim
#pragma once
#include <torch/torch.h>

#include <functional>

#include "core/noise_schedule.h"
#include "core/prediction.h"
#include "samplers/ddpm.h"
#include "samplers/denoise_fn.h"

namespace ddpm {

struct BpdOptions {
  PredictionType prediction_type = PredictionType::epsilon;
  /// Variance of p_θ(x_{t−1}|x_t): fixed_small (β̃) or fixed_large (β); DDPM reports its NLL with
  /// the run's sampling variance. learned_range: the network's Σ_θ (improved DDPM's L_vlb; the
  /// network returns 2·C channels, prediction then v).
  VarianceType variance_type = VarianceType::fixed_small;
  /// Clip x̂_0 to [−1, 1] before forming the model mean (calc_bpd_loop's clip_denoised=True).
  bool clip_denoised = true;
};

/// Every term of the bound for a batch, in bits/dim (float64, CPU).
struct BpdTerms {
  torch::Tensor prior_bpd;  ///< L_T                                                   [B]
  /// Column t: L_0 (the decoder NLL) at t = 0, L_t = KL(q(x_t|x_{t+1}, x_0) ‖ p_θ) for t ≥ 1, in
  /// the schedule's 0-based step indices.                                            [B, T]
  torch::Tensor terms_bpd;
  torch::Tensor mse;  ///< ‖x̂_0 − x_0‖² per dimension at each t                  [B, T]
  torch::Tensor total_bpd;  ///< prior + Σ_t terms                                      [B]
};

/// Progress: steps done out of T.
using BpdProgress = std::function<void(int64_t done, int64_t total)>;

/// Evaluates the bound for x0 [B, C, H, W] in [−1, 1] (uint8 data rescaled, as the decoder's bins
/// assume), drawing one x_t ~ q(x_t|x_0) per step from `generator`, from t = T − 1 down to 0.
/// Throws when x0 is not 4-d or lies outside [−1, 1].
BpdTerms calc_bpd_loop(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                       const BpdOptions& options, const torch::Tensor& x0,
                       torch::Generator& generator, const BpdProgress& progress = {});

/// The bound's parts averaged over images: what `ddpm nll` reports.
struct BpdSummary {
  int64_t images = 0;
  double total = 0;            ///< mean bits/dim
  double total_stderr = 0;     ///< standard error of the mean over images
  double prior = 0;            ///< L_T
  double diffusion = 0;        ///< Σ_{t>1} L_{t−1} (columns 1..T−1)
  double decoder = 0;          ///< L_0 (column 0)
  torch::Tensor per_step;      ///< mean of terms_bpd over images [T] f64
  torch::Tensor mse_per_step;  ///< mean of mse over images [T] f64
};

/// Averages the terms of one or more batches (concatenated along dim 0 first).
BpdSummary summarize_bpd(const std::vector<BpdTerms>& batches);

}  // namespace ddpm

// The simple training objective (DDPM Algorithm 1 / eq. 14): sample t uniformly and ε ~ N(0, I),
// form x_t with q(x_t|x_0) (eq. 4), and regress the network output onto the prediction target
// (ε, x_0 or v) with mse (L_simple) or l1 (the Keras example's mean absolute error); or improved
// DDPM's L_hybrid = L_simple + L_vlb (§3.1) for a network that also learns its variances.
#pragma once
#include <torch/torch.h>

#include "core/noise_schedule.h"
#include "core/prediction.h"
#include "models/precision.h"
#include "models/unet.h"
#include "runs/run_config.h"

namespace ddpm {

/// Mean loss over a batch x0 [B, C, H, W] in model space; t, noise drawn from `generator` on the
/// CPU (so a seed gives the same run on any device). The network runs under autocast at
/// `precision` (models/precision.h); its output and the loss are float32. class_labels [B] int64
/// for a class-conditional model (dropped labels already replaced by the null class), undefined
/// otherwise.
torch::Tensor diffusion_loss(UNet& model, const NoiseSchedule& schedule, PredictionType prediction,
                             LossType loss, const torch::Tensor& x0, torch::Generator& generator,
                             Precision precision = Precision::fp32,
                             const torch::Tensor& class_labels = {});

/// The same loss with t [B] int64 and noise [B, C, H, W] float32 given (on the CPU or x0's
/// device; training/train_step.h draws them for the global batch of a data-parallel step).
torch::Tensor diffusion_loss(UNet& model, const NoiseSchedule& schedule, PredictionType prediction,
                             LossType loss, const torch::Tensor& x0, const torch::Tensor& t,
                             const torch::Tensor& noise, Precision precision = Precision::fp32,
                             const torch::Tensor& class_labels = {});

/// L_hybrid of one batch (improved DDPM §3.1, improved-diffusion's training_losses with
/// LEARNED_RANGE and RESCALED_MSE): output [B, 2C, H, W] = [prediction, v]; mse of the prediction
/// on `target`, plus the bound's term at t (vlb.h vb_term_bpd, bits/dim; the decoder NLL at t = 0)
/// of N(μ̃_t(x_t, x̂_0), Σ_θ) with x̂_0 from the detached prediction, so that L_vlb trains only v.
/// x0 in [−1, 1]; t [B] int64 on x0's device; alpha_bar ᾱ_t [B, 1, 1, 1].
torch::Tensor hybrid_loss(const NoiseSchedule& schedule, PredictionType prediction,
                          const torch::Tensor& output, const torch::Tensor& target,
                          const torch::Tensor& x0, const torch::Tensor& x_t, const torch::Tensor& t,
                          const torch::Tensor& alpha_bar);

}  // namespace ddpm

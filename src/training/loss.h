// The simple training objective (DDPM Algorithm 1 / eq. 14): sample t uniformly and ε ~ N(0, I),
// form x_t with q(x_t|x_0) (eq. 4), and regress the network output onto the prediction target
// (ε, x_0 or v) with mse (L_simple) or l1 (the Keras example's mean absolute error).
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

}  // namespace ddpm

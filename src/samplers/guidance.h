// Classifier-free guidance (Ho & Salimans 2022) as a wrapper around the network callback, the way
// k-diffusion's CFGDenoiser and stable-diffusion.cpp's denoiser wrap theirs: no sampler knows
// about classes. The conditional and the null-class halves go through the network in one batched
// call, and the outputs combine as
//
//   ε̃(x_t, c) = ε(x_t, ∅) + w · (ε(x_t, c) − ε(x_t, ∅))          (Ho & Salimans 2022, eq. 6)
//
// with w = 1 the plain conditional model and w = 0 the unconditional one (one call each). The
// same formula applies whatever the network predicts (ε, x_0 or v), as diffusers' pipelines do.
//
//   DenoiseFn denoise = guided_denoise_fn(net, {labels, /*scale=*/3.0, /*null_class=*/10});
//   run_sampler(config, {denoise, schedule, prediction, noise, {}}, x_T);
#pragma once
#include <torch/torch.h>

#include <functional>

#include "samplers/denoise_fn.h"

namespace ddpm {

/// A class-conditional network: output at (x_t [B, C, H, W], t [B] float step labels,
/// class_labels [B] int64, or undefined for an unconditional network).
using LabelledDenoiseFn = std::function<torch::Tensor(
    const torch::Tensor& x_t, const torch::Tensor& t, const torch::Tensor& class_labels)>;

struct ClassGuidance {
  /// int64 [B], one class per image; undefined for an unconditional model (no guidance).
  torch::Tensor labels;
  /// w above; 1 = the conditional model alone.
  double scale = 1.0;
  /// The label of the null class ∅ (dropped labels in training); −1 when the model has none,
  /// which allows only scale 1.
  int64_t null_class = -1;
};

/// Throws std::invalid_argument when `guidance` cannot be applied: labels that are not int64 of
/// shape [B], a negative or non-finite scale, or a scale other than 1 without a null class.
void check_guidance(const ClassGuidance& guidance);

/// The DenoiseFn a sampler calls for images with `guidance.labels`: net(x, t, labels) at scale 1,
/// net(x, t, ∅) at scale 0, else the batched combination above (a batch of 2B). x_t's batch must
/// equal the labels'. Checks `guidance` first (check_guidance).
DenoiseFn guided_denoise_fn(LabelledDenoiseFn net, ClassGuidance guidance);

}  // namespace ddpm

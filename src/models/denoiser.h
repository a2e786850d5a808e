// The bridge from a UNet to the samplers' DenoiseFn (samplers/denoise_fn.h): step indices t
// become the network's conditioning — the timestep itself (DDPM) or the noise variance
// 1 − ᾱ_t (the Keras DDIM example, whose network takes noise_rates²).
#pragma once
#include <torch/torch.h>

#include "core/noise_schedule.h"
#include "models/precision.h"
#include "models/unet.h"
#include "samplers/denoise_fn.h"
#include "samplers/guidance.h"

namespace ddpm {

/// t [B] step labels in [0, T − 1] (int64 training steps, or float32, fractional allowed) → c [B]
/// float32 on t's device: t itself (conditioning = timestep, as diffusers passes float
/// timesteps to UNet2DModel) or 1 − ᾱ_t (noise-variance; alpha_bar_at for fractional t).
/// Used by sampling and training alike.
torch::Tensor conditioning_for(const UNetConfig& config, const NoiseSchedule& schedule,
                               const torch::Tensor& t);

/// model(x, c, class_labels) with the network under autocast at `precision` on `device` (the
/// model's), returned as float32 so that what follows (a sampler step, a loss) stays float32.
/// class_labels: [B] int64 for a class-conditional model, undefined otherwise. `cache_casts`:
/// see AutocastScope. Used by sampling, the CUDA-graph denoiser and training alike.
torch::Tensor autocast_forward(UNet& model, const torch::Tensor& x, const torch::Tensor& c,
                               const torch::Tensor& class_labels, Precision precision,
                               const torch::Device& device, bool cache_casts = true);

/// (x_t, t) → model(x_t, conditioning_for(t)), t float step labels (samplers/denoise_fn.h), under
/// c10::InferenceMode (the outputs are inference tensors, outside autograd), with the network under
/// autocast at `precision` and its output returned as float32, so the sampler's arithmetic stays
/// float32. The schedule's ᾱ is copied, so the function outlives `schedule`; the model is shared,
/// and the caller sets eval mode. Throws std::invalid_argument when the model's device cannot run
/// `precision`.
DenoiseFn make_denoise_fn(UNet model, const NoiseSchedule& schedule,
                          Precision precision = Precision::fp32);
/// make_denoise_fn's function with class labels passed on to the model (samplers/guidance.h
/// wraps it for classifier-free guidance); undefined labels for an unconditional model.
LabelledDenoiseFn make_labelled_denoise_fn(UNet model, const NoiseSchedule& schedule,
                                           Precision precision = Precision::fp32);

}  // namespace ddpm

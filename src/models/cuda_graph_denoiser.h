// The sampling loop's network call as a CUDA graph: the UNet's forward pass (a few hundred
// kernels for ddpm-cifar10) is recorded once per input shape and replayed with one launch per
// step, which removes the per-kernel launch cost that dominates small batches on a GPU.
//
//   auto denoise = make_cuda_graph_denoise_fn(model, schedule, Precision::bf16);  // model on cuda
//   auto x0 = ddim_sample(denoise, schedule, options, timesteps, x_T, gen);
//
// Builds whose LibTorch has no CUDA compile the same interface; there cuda_graphs_available()
// is false and make_cuda_graph_denoise_fn throws.
#pragma once
#include <torch/torch.h>

#include "core/noise_schedule.h"
#include "models/precision.h"
#include "models/unet.h"
#include "samplers/denoise_fn.h"
#include "samplers/guidance.h"

namespace ddpm {

/// True when this build links a CUDA LibTorch and a GPU is visible.
bool cuda_graphs_available();

/// The same function as make_denoise_fn (models/denoiser.h), the network replayed from a CUDA
/// graph: the first call with a new x_t shape warms the model up on a side stream and records
/// its forward pass into static input and output buffers; every call copies x_t and the
/// conditioning into those buffers, replays, and returns a copy of the output (float32). The
/// model must be on a CUDA device, in eval mode, and must not change while the function lives.
/// Throws std::invalid_argument when the build has no CUDA or the model is not on a GPU.
DenoiseFn make_cuda_graph_denoise_fn(UNet model, const NoiseSchedule& schedule,
                                     Precision precision = Precision::fp32);
/// The same with class labels (make_labelled_denoise_fn): the labels are one more static input
/// of each captured graph, their values checked on the host before each replay.
LabelledDenoiseFn make_cuda_graph_labelled_denoise_fn(UNet model, const NoiseSchedule& schedule,
                                                      Precision precision = Precision::fp32);

}  // namespace ddpm

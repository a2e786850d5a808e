// Drawing images from a model with the sampler a SamplingConfig names
// (samplers/sampler_registry.h). Image i of a request draws its x_T and every sampler noise from
// its own generator, seeded seed + i (samplers/noise_source.h), so images do not depend on the
// batch size or device.
#pragma once
#include <torch/torch.h>

#include <filesystem>

#include "core/noise_schedule.h"
#include "models/unet.h"
#include "runs/run_config.h"
#include "samplers/denoise_fn.h"

namespace ddpm {

struct GenerateRequest {
  int64_t count = 64;       ///< images to draw
  int64_t batch_size = 64;  ///< images per network call
  uint64_t seed = 0;        ///< image i's x_T and sampler draws come from seed + i
  /// Initial x_T [count, C, H, W]; drawn from `seed` when undefined.
  torch::Tensor x_T;
};

/// The initial noise x_T stored as tensor "x_T" [N, C, H, W] in a safetensors file (any float
/// dtype; other tensors in the file are ignored), as float32, checked against the model's
/// channels and sample_size. Throws std::runtime_error naming the file and what is wrong.
torch::Tensor read_initial_noise(const std::filesystem::path& file, const UNetConfig& model);

/// Progress: batch index, batch count, and the sampler's step within the batch.
using GenerateProgress = std::function<void(int64_t batch, int64_t batches, const SamplerStep&)>;

/// Samples in model space (float32 [count, C, H, W] on the CPU). The model must be in eval mode.
torch::Tensor generate(UNet& model, const NoiseSchedule& schedule, PredictionType prediction,
                       const SamplingConfig& sampling, const GenerateRequest& request,
                       const GenerateProgress& progress = {});

}  // namespace ddpm

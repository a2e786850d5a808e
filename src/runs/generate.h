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
  /// Class-conditional models: the class of each image, int64 [count]; undefined: image i gets
  /// class i mod classes.num_classes (default_class_labels). Must stay undefined for an
  /// unconditional model.
  torch::Tensor class_labels;
  /// The model's classes (its run's config, or what load_model read): the count K for the
  /// default labels and the null class that guidance (sampling.guidance_scale ≠ 1) needs.
  ClassesConfig classes;
};

/// int64 [count]: 0, 1, …, K − 1, 0, 1, … (every class in turn). Throws std::invalid_argument
/// when num_classes < 1.
torch::Tensor default_class_labels(int64_t count, int64_t num_classes);

/// The initial noise x_T stored as tensor "x_T" [N, C, H, W] in a safetensors file (any float
/// dtype; other tensors in the file are ignored), as float32, checked against the model's
/// channels and sample_size. Throws std::runtime_error naming the file and what is wrong.
torch::Tensor read_initial_noise(const std::filesystem::path& file, const UNetConfig& model);

/// The network callback of a model for sampling outside generate() (trajectories,
/// interpolations, figures): the model itself when it is not class-conditional; otherwise
/// guided at config.sampling.guidance_scale with config.classes' null class, each batch of B
/// images taking `labels` (int64 [1]: all of them; [B]: one each) or, undefined, the classes
/// 0, 1, …, K − 1 in turn. Throws std::invalid_argument for labels on an unconditional model.
DenoiseFn sampling_denoise_fn(UNet model, const NoiseSchedule& schedule, const RunConfig& config,
                              const torch::Tensor& labels = {});

/// Progress: batch index, batch count, and the sampler's step within the batch.
using GenerateProgress = std::function<void(int64_t batch, int64_t batches, const SamplerStep&)>;

/// Samples in model space (float32 [count, C, H, W] on the CPU). The model must be in eval mode.
/// Class-conditional models are guided at sampling.guidance_scale (samplers/guidance.h). Throws
/// std::invalid_argument for labels an unconditional model cannot take, labels outside [0,
/// num_class_embeds), or guidance without a null class.
torch::Tensor generate(UNet& model, const NoiseSchedule& schedule, PredictionType prediction,
                       const SamplingConfig& sampling, const GenerateRequest& request,
                       const GenerateProgress& progress = {});

}  // namespace ddpm

// One network evaluation on given inputs (ddpm predict): the raw model output for (x_t, t), to
// compare against another implementation (diffusers' UNet2DModel(x, t).sample) tensor for tensor.
//
//   auto in = read_predict_input("in.safetensors", loaded.model->config(), T);   // x, t
//   auto eps = predict(loaded.model, loaded.schedule, in.x, in.t, 64);
//   write_safetensors("out.safetensors", {{"eps", eps}});
#pragma once
#include <torch/torch.h>

#include <filesystem>

#include "core/noise_schedule.h"
#include "models/unet.h"

namespace ddpm {

struct PredictInput {
  torch::Tensor x;  ///< float32 [N, C, H, W]
  torch::Tensor t;  ///< int64 [N] step indices in [0, T)
  /// int64 [N] class labels ("class_labels" in the file), for class-conditional models;
  /// undefined when the file has none.
  torch::Tensor class_labels;
};

/// Reads tensors "x" (float, [N, in_channels, H, W]) and "t" (integer, [N], values in
/// [0, num_train_timesteps)) from a safetensors file, and "class_labels" (integer [N] in [0,
/// num_class_embeds)) which a class-conditional model needs and an unconditional one refuses;
/// other tensors are ignored. Throws
/// std::runtime_error naming the file, the tensor and what is wrong.
PredictInput read_predict_input(const std::filesystem::path& file, const UNetConfig& model,
                                int64_t num_train_timesteps);

/// model(x, conditioning_for(t)) in batches of `batch_size`, without gradients: the raw output
/// (ε, x_0 or v as the model was trained), float32 [N, out_channels, H, W] on the CPU. The model
/// must be in eval mode.
torch::Tensor predict(UNet& model, const NoiseSchedule& schedule, const torch::Tensor& x,
                      const torch::Tensor& t, int64_t batch_size,
                      const torch::Tensor& class_labels = {});

}  // namespace ddpm

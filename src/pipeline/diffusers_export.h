// Writing a model as a diffusers model folder, the files UNet2DModel.from_pretrained and
// DDPMScheduler / DDIMScheduler.from_pretrained read (diffusers 0.21.4 ModelMixin.save_pretrained
// with safe_serialization, SchedulerMixin.save_pretrained):
//
//   OUT/config.json                           UNet2DModel config, every key (diffusers_format.h)
//   OUT/diffusion_pytorch_model.safetensors   F32 weights, current key spelling, {"format": "pt"}
//   OUT/scheduler_config.json                 DDIMScheduler or DDPMScheduler (scheduler_config.h)
//
//   auto loaded = load_model("runs/fmnist", WeightsKind::ema, torch::kCPU);
//   export_diffusers(loaded.config, state_dict(*loaded.model), "fmnist-diffusers");
#pragma once
#include <filesystem>

#include "io/safetensors.h"
#include "runs/run_config.h"

namespace ddpm {

/// Checks everything first (the model must be expressible as UNet2DModel, the sampling settings
/// as a scheduler config, `weights` must hold exactly the model's tensors), then writes the three
/// files into `out`, created if needed. Throws std::invalid_argument naming the reason a model
/// cannot be exported, std::runtime_error when `out` is a file or a folder that is not empty.
void export_diffusers(const RunConfig& config, const TensorMap& weights,
                      const std::filesystem::path& out);

}  // namespace ddpm

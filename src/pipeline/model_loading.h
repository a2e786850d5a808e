// Loading a trained model for sampling: from a run directory (config.json +
// checkpoints/latest/) or a checkpoint folder inside one, with EMA or raw weights.
#pragma once
#include <torch/torch.h>

#include <filesystem>

#include "core/noise_schedule.h"
#include "models/unet.h"
#include "pipeline/run_config.h"

namespace ddpm {

enum class WeightsKind { ema, raw };
template <>
const EnumTable<WeightsKind>& enum_table<WeightsKind>();

struct LoadedModel {
  RunConfig config;
  UNet model{nullptr};  ///< in eval mode, on the requested device
  NoiseSchedule schedule;
  std::filesystem::path checkpoint_dir;
  int64_t step = 0;  ///< training step the weights come from
};

/// `path`: a run directory or a checkpoint folder (config.json beside it or two levels up).
/// `weights` ema needs the checkpoint's ema.safetensors; a checkpoint without one is an error.
LoadedModel load_model(const std::filesystem::path& path, WeightsKind weights,
                       const torch::Device& device);

/// "auto" → cuda when available else cpu; otherwise torch::Device(text), checked for availability.
torch::Device parse_device(const std::string& text);

}  // namespace ddpm

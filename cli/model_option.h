// The --model and --weights options that sample, predict and export share.
#pragma once
#include <torch/torch.h>

#include <string>

#include "runs/model_loading.h"

namespace ddpm::cli {

inline constexpr const char* kModelHelp =
    "Run directory, checkpoint folder, diffusers model folder (config.json + "
    "diffusion_pytorch_model.safetensors) or diffusers pipeline folder (model_index.json + unet/ "
    "+ scheduler/)";
inline constexpr const char* kWeightsHelp =
    "ema (default) or raw (the online weights) of our checkpoints; a diffusers folder holds one "
    "set";

/// load_model with --weights as given ("" = default ema). An explicit --weights on a diffusers
/// folder is an error: it holds one set of weights, so the choice would be silently ignored.
LoadedModel load_model_option(const std::string& path, const std::string& weights,
                              const torch::Device& device);

/// "runs/fmnist/checkpoints/latest (run directory, step 5000, ema weights)" or
/// "ddpm-cifar10-32 (diffusers model folder, scheduler .../scheduler_config.json)".
std::string describe(const LoadedModel& loaded, const std::string& weights);

}  // namespace ddpm::cli

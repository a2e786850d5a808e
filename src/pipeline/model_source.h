// Where a new run's model comes from when it is not a preset: an existing model to fine-tune
// (ddpm train --init DIR: our run or checkpoint, or a diffusers model or pipeline folder) or a
// diffusers architecture to train from scratch (ddpm train --arch CONFIG.json).
//
// The source enters the usual resolution (run_config.h) as one more merge patch, after the preset
// and before --config and flags:
//
//   defaults → preset → source (model [, schedule, prediction_type, sampling, training.init])
//            → --config FILE → flags
//
//   ModelSource s = init_source("ddpm-cifar10-32", WeightsKind::ema);
//   check_model_source(s, preset, preset_given, user_patches);        // contradictions throw
//   patches.insert(patches.begin(), source_patch(s));
//   RunConfig c = resolve_run_config(preset, patches);                 // Trainer loads the weights
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "models/unet_config.h"
#include "runs/run_config.h"

namespace ddpm {

struct ModelSource {
  /// "--init DIR" or "--arch FILE", for messages.
  std::string flag;
  /// The architecture of the run.
  UNetConfig model;
  /// --init: the model's own schedule, prediction type and sampling settings, which fine-tuning
  /// keeps (flags may still change them); --arch: none, the preset's apply.
  std::optional<RunConfig> settings;
  /// --init: the folder recorded as training.init (the Trainer copies its weights in).
  std::string init;
  WeightsKind init_weights = WeightsKind::ema;
};

/// train --init: the architecture and settings of the model at `path` (any layout load_model
/// reads), read without its weights. Throws as load_model does.
ModelSource init_source(const std::filesystem::path& path, WeightsKind weights);

/// train --arch: the architecture a diffusers UNet2DModel config.json describes
/// (unet_config_from_diffusers). Throws std::invalid_argument naming the file and the problem.
ModelSource arch_source(const std::filesystem::path& config_json);

/// The merge patch that gives a run `source`'s model (the complete model section), data of its
/// image size and channels, and, for --init, its schedule, prediction type, sampling and
/// training.init / init_weights.
nlohmann::json source_patch(const ModelSource& source);

/// Throws std::invalid_argument when the source and the rest of the command contradict:
///  - `preset_given` and the preset's architecture differs from the source's (beyond sample_size
///    and dropout), or, for --init, its schedule or prediction type differs from the model's;
///  - a user patch (--config, flags) sets a model key other than dropout and sample_size.
void check_model_source(const ModelSource& source, const std::string& preset, bool preset_given,
                        const std::vector<nlohmann::json>& user_patches);

}  // namespace ddpm

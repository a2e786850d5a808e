#include "pipeline/model_source.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <stdexcept>

#include "runs/diffusers_format.h"
#include "runs/model_loading.h"

namespace ddpm {

namespace fs = std::filesystem;
using nlohmann::json;

ModelSource init_source(const fs::path& path, WeightsKind weights) {
  ModelSource s;
  s.flag = "--init " + path.string();
  const RunConfig config = read_model_config(path);
  s.model = config.model;
  s.settings = config;
  s.init = fs::absolute(path).lexically_normal().string();
  s.init_weights = weights;
  return s;
}

ModelSource arch_source(const fs::path& config_json) {
  if (!fs::is_regular_file(config_json))
    throw std::invalid_argument(config_json.string() +
                                ": --arch takes a diffusers UNet2DModel config.json file");
  std::ifstream in(config_json);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw std::invalid_argument(config_json.string() + ": invalid JSON: " + e.what());
  }
  ModelSource s;
  s.flag = "--arch " + config_json.string();
  s.model = unet_config_from_diffusers(j, config_json.string());
  return s;
}

json source_patch(const ModelSource& source) {
  // The data take the model's shape (as a preset's model takes the data's): --image-size and
  // --channels may still be given, and must then agree with it.
  json patch{
      {"model", to_json(source.model)},
      {"data", {{"image_size", source.model.sample_size}, {"channels", source.model.in_channels}}}};
  if (source.settings) {
    const json settings = to_json(*source.settings);
    for (const char* key : {"schedule", "prediction_type", "sampling"}) patch[key] = settings[key];
    patch["training"] = {{"init", source.init}, {"init_weights", to_string(source.init_weights)}};
  }
  return patch;
}

void check_model_source(const ModelSource& source, const std::string& preset, bool preset_given,
                        const std::vector<json>& user_patches) {
  for (const auto& patch : user_patches) {
    if (!patch.contains("model")) continue;
    for (const auto& [key, value] : patch["model"].items())
      if (key != "dropout" && key != "sample_size")
        throw std::invalid_argument(
            fmt::format("model.{} is set, but {} gives the architecture (only model.dropout and "
                        "model.sample_size may be changed); remove it from --config",
                        key, source.flag));
  }
  if (!preset_given) return;
  const RunConfig recipe = resolve_run_config(preset, {});
  std::vector<std::string> differences;
  for (const auto& key : architecture_differences(recipe.model, source.model))
    if (key != "in_channels" && key != "out_channels")  // a preset's follow the data
      differences.push_back(key);
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument(fmt::format(
        "--preset {} contradicts {}: {}. Drop --preset (the default recipe then applies) or "
        "choose a preset that agrees",
        preset, source.flag, what));
  };
  if (!differences.empty())
    fail(fmt::format("the preset's architecture differs in {}", fmt::join(differences, ", ")));
  if (source.settings) {
    const json mine = to_json(recipe), theirs = to_json(*source.settings);
    if (mine["schedule"] != theirs["schedule"])
      fail("the preset's noise schedule " + mine["schedule"].dump() + " differs from the model's " +
           theirs["schedule"].dump());
    if (mine["prediction_type"] != theirs["prediction_type"])
      fail("the preset predicts " + mine["prediction_type"].dump() + " but the model " +
           theirs["prediction_type"].dump());
  }
}

}  // namespace ddpm

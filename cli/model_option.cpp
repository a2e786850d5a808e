#include "model_option.h"

#include <fmt/format.h>

namespace ddpm::cli {

namespace {

bool is_diffusers(const LoadedModel& loaded) {
  return loaded.layout == ModelLayout::diffusers_model ||
         loaded.layout == ModelLayout::diffusers_pipeline;
}

}  // namespace

LoadedModel load_model_option(const std::string& path, const std::string& weights,
                              const torch::Device& device) {
  auto loaded = load_model(
      path, weights.empty() ? WeightsKind::ema : parse_enum<WeightsKind>(weights), device);
  if (!weights.empty() && is_diffusers(loaded))
    throw std::invalid_argument("--weights " + weights + ": " + path + " is a " +
                                to_string(loaded.layout) +
                                ", which holds one set of weights; drop --weights");
  for (const auto& w : loaded.warnings) fmt::print(stderr, "warning: {}\n", w);
  return loaded;
}

std::string describe(const LoadedModel& loaded, const std::string& weights) {
  if (is_diffusers(loaded))
    return fmt::format(
        "{} ({}, scheduler {})", loaded.weights_file.string(), to_string(loaded.layout),
        loaded.scheduler_config.empty() ? std::string("defaults: no scheduler_config.json found")
                                        : loaded.scheduler_config.string());
  if (loaded.layout == ModelLayout::ddim_official ||
      loaded.layout == ModelLayout::improved_diffusion)
    return fmt::format("{} ({}, {} weights)", loaded.weights_file.string(),
                       to_string(loaded.layout), weights.empty() ? "ema" : weights);
  return fmt::format("{} ({}, step {}, {} weights)", loaded.checkpoint_dir.string(),
                     to_string(loaded.layout), loaded.step, weights.empty() ? "ema" : weights);
}

}  // namespace ddpm::cli

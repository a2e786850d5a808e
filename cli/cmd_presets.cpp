// ddpm presets: the named recipes with their architectures and parameter counts.
#include <fmt/format.h>

#include "commands.h"
#include "data/fashion_mnist.h"
#include "models/autoencoder.h"
#include "models/presets.h"
#include "models/unet.h"
#include "runs/autoencoder_run_config.h"
#include "runs/run_config.h"

namespace ddpm::cli {

namespace {

/// 1706001 → "1,706,001": exact counts, readable.
std::string with_thousands(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

Run add_presets(CLI::App& app) {
  app.add_subcommand(
      "presets",
      "List the named recipes (--preset) with parameter counts, diffusion and autoencoder");
  return []() -> int {
    fmt::print("{:<18} {:>11}  {:<10} {:<13} {:<15} {:<18} {:<5} {}\n", "preset", "parameters",
               "layout", "norm", "conditioning", "schedule", "loss", "image");
    for (const auto& name : preset_names()) {
      auto config = resolve_run_config(name, {});
      // A class-conditional recipe on Fashion-MNIST: its ten classes, as training will set them.
      if (config.classes.conditional && config.data.source == kFashionMnistSource)
        resolve_classes(config, {}, fashion_mnist_class_names(), true, "");
      UNet model(config.model);
      fmt::print("{:<18} {:>11}  {:<10} {:<13} {:<15} {:<18} {:<5} {}x{}x{}\n", name,
                 with_thousands(count_parameters(*model)), to_string(config.model.layout),
                 to_string(config.model.norm), to_string(config.model.conditioning),
                 to_string(config.schedule.beta_schedule), to_string(config.training.loss),
                 config.model.in_channels, config.model.sample_size, config.model.sample_size);
    }
    fmt::print("\nautoencoder presets (ddpm train-autoencoder --preset)\n");
    fmt::print("{:<18} {:>11}  {:<14} {:<14} {}\n", "preset", "parameters", "kind", "image",
               "latents");
    for (const auto& name : autoencoder_preset_names()) {
      const auto config = resolve_autoencoder_run_config(name, {});
      Autoencoder model(config.model);
      const auto& m = config.model;
      const auto z = latent_shape(m);
      fmt::print(
          "{:<18} {:>11}  {:<14} {:<14} {}x{}x{}\n", name, with_thousands(count_parameters(*model)),
          m.kind == AutoencoderKind::kl ? "AutoencoderKL" : "VQModel",
          fmt::format("{}x{}x{}", m.in_channels, m.sample_size, m.sample_size), z[0], z[1], z[2]);
    }
    return 0;
  };
}

}  // namespace ddpm::cli

// ddpm presets: the named recipes with their architectures and parameter counts.
#include <fmt/format.h>

#include "commands.h"
#include "models/presets.h"
#include "models/unet.h"
#include "pipeline/run_config.h"

namespace ddpm::cli {

Run add_presets(CLI::App& app) {
  app.add_subcommand("presets", "List the named recipes (--preset) with parameter counts");
  return []() -> int {
    fmt::print("{:<14} {:>12}  {:<10} {:<14} {:<10} {}\n", "preset", "parameters", "layout",
               "schedule", "loss", "image");
    for (const auto& name : preset_names()) {
      auto config = resolve_run_config(name, {});
      UNet model(config.model);
      fmt::print("{:<14} {:>12}  {:<10} {:<14} {:<10} {}x{}x{}\n", name,
                 fmt::format("{:.2f}M", double(count_parameters(*model)) / 1e6),
                 to_string(config.model.layout), to_string(config.schedule.beta_schedule),
                 to_string(config.training.loss), config.model.in_channels,
                 config.model.sample_size, config.model.sample_size);
    }
    return 0;
  };
}

}  // namespace ddpm::cli

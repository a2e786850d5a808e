// ddpm info IMG.png: how an image ddpm wrote was made — its size and the "parameters" chunk
// (model and weights hash, sampler and options, seed, classes, index, version), pretty-printed,
// with the command that re-creates it.
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "io/image.h"
#include "io/png_text.h"

namespace ddpm::cli {

Run add_info(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  auto* cmd =
      app.add_subcommand("info", "Show how a PNG written by ddpm was made (its parameters chunk)");
  cmd->add_option("IMAGE", *file, "A PNG written by ddpm (sample, train grids, figures, plots)")
      ->required()
      ->check(CLI::ExistingFile);
  return [file]() -> int {
    const auto text = read_png_text_file(*file);
    const auto image = read_image(*file);
    fmt::print("{}: {}x{}, {} channel{}\n", *file, image.size(2), image.size(1), image.size(0),
               image.size(0) == 1 ? "" : "s");
    bool found = false;
    for (const auto& [keyword, value] : text) {
      if (keyword != "parameters") {
        fmt::print("{}: {}\n", keyword, value);
        continue;
      }
      found = true;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(value);
      } catch (const nlohmann::json::exception&) {
        fmt::print("parameters (not JSON): {}\n", value);
        continue;
      }
      fmt::print("parameters:\n{}\n", j.dump(2));
      if (j.value("command", std::string()) == "sample")
        fmt::print("re-create it with: ddpm sample --from-png {}\n", *file);
    }
    if (!found) fmt::print("no parameters chunk: this PNG was not written by ddpm\n");
    return 0;
  };
}

}  // namespace ddpm::cli

// What the training commands share for their configs: flags that land in a JSON merge patch
// (section.key), and reading a --config file (JSON with // comments).
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace ddpm::cli {

/// Registers `--name` whose value lands at patch[section][key] (patch[key] when section is
/// empty) when given.
template <typename T>
void patch_option(CLI::App& cmd, nlohmann::json& patch, const std::string& name,
                  const std::string& section, const std::string& key, const std::string& help) {
  cmd.add_option_function<T>(
      name,
      [&patch, section, key](const T& v) {
        if (section.empty())
          patch[key] = v;
        else
          patch[section][key] = v;
      },
      help);
}

/// A --config file: a JSON object of config sections (// comments allowed) whose "preset", if
/// any, is a string. Throws std::invalid_argument naming the file.
nlohmann::json read_config_file(const std::filesystem::path& path);

}  // namespace ddpm::cli

// YAML configuration files as JSON values, read with libyaml (Debian's libyaml-dev), for the
// config.yml files of ermongroup/ddim (runners/diffusion.py reads them with yaml.safe_load).
// Mappings become objects, sequences arrays; a plain (unquoted) scalar becomes null (~, null, an
// empty value), a boolean (YAML 1.1's true/false/yes/no/on/off, as PyYAML's safe_load), an
// integer, a float, or else a string; quoted scalars stay strings. Aliases are expanded up to a
// bound, so a hostile file cannot make the result explode.
//
//   nlohmann::json config = read_yaml_file("config.yml");
//   config["model"]["ch_mult"];   // [1, 2, 2, 2]
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace ddpm {

/// Parses one YAML document; throws std::runtime_error naming `origin`, the line and the fault.
nlohmann::json parse_yaml(const std::string& text, const std::string& origin);

/// Reads and parses a file (at most 1 MiB: a config, not data).
nlohmann::json read_yaml_file(const std::filesystem::path& path);

}  // namespace ddpm

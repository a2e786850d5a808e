#include "sampler_flags.h"

#include <fmt/format.h>

#include <stdexcept>

namespace ddpm::cli {

namespace {

const char* kGroup = "Sampler";

nlohmann::json parse_value(const SamplerOption& o, const std::string& text) {
  try {
    size_t used = 0;
    switch (o.kind) {
      case OptionKind::integer: {
        const long long v = std::stoll(text, &used);
        if (used == text.size()) return v;
        break;
      }
      case OptionKind::real: {
        const double v = std::stod(text, &used);
        if (used == text.size()) return v;
        break;
      }
      case OptionKind::boolean:
        if (text == "true" || text == "on" || text == "1") return true;
        if (text == "false" || text == "off" || text == "0") return false;
        break;
      case OptionKind::choice:
        return text;
    }
  } catch (const std::exception&) {
  }
  throw CLI::ValidationError(o.flag, fmt::format("'{}' is not a valid value", text));
}

}  // namespace

std::shared_ptr<SamplerFlags> add_sampler_flags(CLI::App& cmd, const std::string& defaults_help) {
  auto flags = std::make_shared<SamplerFlags>();
  std::vector<std::string> names;
  for (const auto& [kind, name] : enum_table<SamplerKind>().entries) names.push_back(name);
  cmd.add_option_function<std::string>(
         "--sampler", [flags](const std::string& v) { flags->given["sampler"] = v; },
         fmt::format("Sampler: {} (default: {})", fmt::join(names, ", "), defaults_help))
      ->check(CLI::IsMember(names))
      ->group(kGroup);
  for (const auto& option : sampler_options()) {
    const std::string key = option.key;
    const std::string help = fmt::format("{} [{}]", option.help, samplers_with(option));
    if (option.kind == OptionKind::boolean) {
      const bool value = option.flag_value;
      cmd.add_flag_callback(option.flag, [flags, key, value] { flags->given[key] = value; }, help)
          ->group(kGroup);
      continue;
    }
    auto* added = cmd.add_option_function<std::string>(
        option.flag,
        [flags, key, &option](const std::string& v) { flags->given[key] = parse_value(option, v); },
        help);
    added->group(kGroup);
    if (option.kind == OptionKind::choice) added->check(CLI::IsMember(option.choices));
  }
  return flags;
}

SamplerConfig resolve_sampler(const SamplerConfig& base, const SamplerFlags& flags, int64_t T,
                              const nlohmann::json& command_defaults) {
  nlohmann::json overrides = flags.given;
  if (!overrides.contains("sampler"))
    for (const auto& [key, value] : command_defaults.items())
      if (!overrides.contains(key)) overrides[key] = value;
  auto config = apply_sampler_overrides(base, overrides);
  validate_sampler_config(config, T);
  return config;
}

}  // namespace ddpm::cli

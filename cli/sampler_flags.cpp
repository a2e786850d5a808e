#include "sampler_flags.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>
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
      case OptionKind::integer_list: {
        nlohmann::json list = nlohmann::json::array();
        std::string item;
        std::stringstream in(text);
        while (std::getline(in, item, ',')) {
          const long long v = std::stoll(item, &used);
          if (used != item.size()) throw std::invalid_argument(item);
          list.push_back(v);
        }
        return list;
      }
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
      cmd.add_flag_callback(
             option.flag, [flags, key, value] { flags->given[key] = value; }, help)
          ->group(kGroup);
      if (!option.opposite_flag.empty())
        cmd.add_flag_callback(
               option.opposite_flag, [flags, key, value] { flags->given[key] = !value; },
               fmt::format("The opposite of {} [{}]", option.flag, samplers_with(option)))
            ->group(kGroup);
      continue;
    }
    auto* added = cmd.add_option_function<std::string>(
        option.flag,
        [flags, key, &option](const std::string& v) { flags->given[key] = parse_value(option, v); },
        help);
    added->group(kGroup);
    if (option.kind == OptionKind::choice) added->check(CLI::IsMember(option.choices));
    // Ranges that hold whatever the model: refused before the model is read.
    if (key == "eta") added->check(CLI::Range(0.0, 1.0));
    if (key == "solver_order") added->check(CLI::Range(int64_t(1), int64_t(3)));
    if (key == "steps") added->check(CLI::NonNegativeNumber);
  }
  // A named sampler is checked against the given options before any work starts (a range that
  // depends on the model, steps ≤ T, is checked once the model is read).
  cmd.parse_complete_callback([flags] {
    if (!flags->given.contains("sampler")) return;
    try {
      const auto kind = parse_enum<SamplerKind>(flags->given["sampler"].get<std::string>());
      auto config = apply_sampler_overrides(default_sampler_config(kind), flags->given);
      if (config.steps == 0 && default_sampler_config(kind).steps != 0) config.steps = 1;
      validate_sampler_config(config, std::max<int64_t>(config.steps, 1));
    } catch (const std::invalid_argument& e) {
      throw CLI::ValidationError("--sampler", e.what());
    }
  });
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

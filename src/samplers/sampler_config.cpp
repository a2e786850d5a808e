#include "samplers/sampler_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <stdexcept>
#include <type_traits>

namespace ddpm {

template <>
const EnumTable<SamplerKind>& enum_table<SamplerKind>() {
  static const EnumTable<SamplerKind> table{
      "sampler", {{SamplerKind::ddpm, "ddpm"}, {SamplerKind::ddim, "ddim"}}};
  return table;
}

template <>
const EnumTable<PrevTimestep>& enum_table<PrevTimestep>() {
  static const EnumTable<PrevTimestep> table{
      "previous-timestep rule",
      {{PrevTimestep::diffusers, "diffusers"}, {PrevTimestep::next_in_sequence, "next-in-sequence"}}};
  return table;
}

SamplerConfig default_sampler_config(SamplerKind kind) {
  SamplerConfig c;  // DDIMScheduler's defaults (scheduling_ddim.py __init__), DDIMPipeline's 50
  c.kind = kind;
  switch (kind) {
    case SamplerKind::ddpm:  // DDPMScheduler.__init__; DDPMPipeline's 1000 = the full chain
      c.steps = 0;
      break;
    case SamplerKind::ddim:
      break;
  }
  return c;
}

SamplerConfig switch_sampler(const SamplerConfig& from, SamplerKind kind) {
  if (from.kind == kind) return from;
  SamplerConfig c = default_sampler_config(kind);
  c.timestep_spacing = from.timestep_spacing;
  c.steps_offset = from.steps_offset;
  const int64_t own_default = c.steps;
  if (own_default != 0) c.steps = from.steps > 0 ? from.steps : own_default;
  return c;
}

bool SamplerOption::applies_to(SamplerKind k) const {
  return samplers.empty() || std::find(samplers.begin(), samplers.end(), k) != samplers.end();
}

namespace {

using nlohmann::json;

template <typename T>
constexpr OptionKind kind_of() {
  if constexpr (std::is_same_v<T, bool>) return OptionKind::boolean;
  else if constexpr (std::is_integral_v<T>) return OptionKind::integer;
  else if constexpr (std::is_floating_point_v<T>) return OptionKind::real;
  else return OptionKind::choice;
}

/// An option stored in one member of SamplerConfig.
template <typename T>
SamplerOption field(std::string key, std::string flag, T SamplerConfig::*member, std::string help,
                    std::vector<SamplerKind> samplers = {}, bool flag_value = true) {
  SamplerOption o;
  o.key = key;
  o.flag = std::move(flag);
  o.kind = kind_of<T>();
  o.help = std::move(help);
  o.samplers = std::move(samplers);
  o.flag_value = flag_value;
  if constexpr (kind_of<T>() == OptionKind::choice)
    for (const auto& [value, name] : enum_table<T>().entries) o.choices.push_back(name);
  o.get = [member](const SamplerConfig& c) -> json {
    if constexpr (kind_of<T>() == OptionKind::choice) return to_string(c.*member);
    else return c.*member;
  };
  o.set = [member, key](SamplerConfig& c, const json& v) {
    auto fail = [&](const std::string& expected) {
      throw std::invalid_argument(fmt::format("{}: expected {}, found {}", key, expected, v.dump()));
    };
    if constexpr (kind_of<T>() == OptionKind::boolean) {
      if (!v.is_boolean()) fail("true or false");
      c.*member = v.get<bool>();
    } else if constexpr (kind_of<T>() == OptionKind::integer) {
      if (!v.is_number_integer()) fail("an integer");
      c.*member = v.get<T>();
    } else if constexpr (kind_of<T>() == OptionKind::real) {
      if (!v.is_number()) fail("a number");
      c.*member = v.get<T>();
    } else {
      if (!v.is_string()) fail("one of " + allowed_values<T>());
      try {
        c.*member = parse_enum<T>(v.get<std::string>());
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(key + ": " + e.what());
      }
    }
  };
  return o;
}

}  // namespace

const std::vector<SamplerOption>& sampler_options() {
  using K = SamplerKind;
  static const std::vector<SamplerOption> options{
      field("steps", "--steps", &SamplerConfig::steps,
            "Inference steps (network evaluations of the grid; ddpm: 0 = all T)"),
      field("timestep_spacing", "--timestep-spacing", &SamplerConfig::timestep_spacing,
            "How inference steps are picked from the T training steps"),
      field("steps_offset", "--steps-offset", &SamplerConfig::steps_offset,
            "diffusers' steps_offset, added to leading spacing"),
      field("eta", "--eta", &SamplerConfig::eta, "DDIM eta in [0, 1] (0: deterministic)",
            {K::ddim}),
      field("clip_sample", "--no-clip", &SamplerConfig::clip_sample,
            "Do not clip the predicted x0 to [-clip_range, clip_range]", {K::ddpm, K::ddim},
            /*flag_value=*/false),
      field("clip_range", "--clip-range", &SamplerConfig::clip_range,
            "Clip the predicted x0 to [-R, R] (diffusers' clip_sample_range)", {K::ddpm, K::ddim}),
      field("variance_type", "--variance-type", &SamplerConfig::variance_type,
            "DDPM posterior variance: fixed_small (beta tilde) or fixed_large (beta)", {K::ddpm}),
      field("set_alpha_to_one", "--no-set-alpha-to-one", &SamplerConfig::set_alpha_to_one,
            "End the DDIM chain at alpha_bar_0 instead of 1 (diffusers set_alpha_to_one = false)", {K::ddim},
            /*flag_value=*/false),
      field("ddim_prev_timestep", "--ddim-prev-timestep", &SamplerConfig::ddim_prev_timestep,
            "Step after t: diffusers (t - T//N, diffusers' DDIM and DDPM) or next-in-sequence "
            "(the DDIM paper's code)",
            {K::ddpm, K::ddim}),
  };
  return options;
}

const SamplerOption& sampler_option(const std::string& key) {
  for (const auto& o : sampler_options())
    if (o.key == key) return o;
  throw std::logic_error("no sampler option named " + key);
}

std::string samplers_with(const SamplerOption& option) {
  std::vector<std::string> names;
  for (const auto& [kind, name] : enum_table<SamplerKind>().entries)
    if (option.applies_to(kind)) names.push_back(name);
  return fmt::format("{}", fmt::join(names, ", "));
}

json sampler_config_to_json(const SamplerConfig& config) {
  json j{{"sampler", to_string(config.kind)}};
  for (const auto& o : sampler_options())
    if (o.applies_to(config.kind)) j[o.key] = o.get(config);
  return j;
}

void read_sampler_config(const json& object, const std::string& context, SamplerConfig& config,
                         std::set<std::string>& consumed) {
  if (!object.is_object())
    throw std::invalid_argument(context + ": expected a JSON object, found " +
                                std::string(object.type_name()));
  if (auto it = object.find("sampler"); it != object.end()) {
    if (!it->is_string())
      throw std::invalid_argument(fmt::format("{}.sampler: expected one of {}, found {}", context,
                                              allowed_values<SamplerKind>(), it->dump()));
    try {
      config = switch_sampler(config, parse_enum<SamplerKind>(it->get<std::string>()));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(context + ".sampler: " + e.what());
    }
    consumed.insert("sampler");
  }
  for (const auto& o : sampler_options()) {
    auto it = object.find(o.key);
    if (it == object.end()) continue;
    try {
      o.set(config, *it);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(context + "." + e.what());
    }
    consumed.insert(o.key);
  }
}

SamplerConfig apply_sampler_overrides(const SamplerConfig& base, const json& overrides) {
  if (!overrides.is_object())
    throw std::invalid_argument("sampler settings must be a JSON object, found " +
                                overrides.dump());
  SamplerConfig c = base;
  if (auto it = overrides.find("sampler"); it != overrides.end()) {
    if (!it->is_string())
      throw std::invalid_argument(fmt::format("sampler: expected one of {}, found {}",
                                              allowed_values<SamplerKind>(), it->dump()));
    c = switch_sampler(c, parse_enum<SamplerKind>(it->get<std::string>()));
  }
  for (const auto& [key, value] : overrides.items()) {
    if (key == "sampler") continue;
    const SamplerOption* option = nullptr;
    for (const auto& o : sampler_options())
      if (o.key == key) option = &o;
    if (!option) throw std::invalid_argument("unknown sampler option '" + key + "'");
    if (!option->applies_to(c.kind))
      throw std::invalid_argument(fmt::format("{} is not an option of sampler {} (it applies to: {})",
                                              option->flag, to_string(c.kind),
                                              samplers_with(*option)));
    option->set(c, value);
  }
  return c;
}

void validate_sampler_config(const SamplerConfig& c, int64_t T) {
  auto fail = [](const std::string& message) { throw std::invalid_argument(message); };
  const bool full_chain_allowed = default_sampler_config(c.kind).steps == 0;
  if (c.steps < (full_chain_allowed ? 0 : 1) || c.steps > T)
    fail(fmt::format("steps = {} is out of range for {} (allowed: {} to {}, the model's "
                     "num_train_timesteps{})",
                     c.steps, to_string(c.kind), full_chain_allowed ? 0 : 1, T,
                     full_chain_allowed ? "; 0: the full chain" : ""));
  if (c.steps_offset < 0 || c.steps_offset >= T)
    fail(fmt::format("steps_offset = {} is out of range (allowed: 0 to {})", c.steps_offset, T - 1));
  if (c.eta < 0.0 || c.eta > 1.0)
    fail(fmt::format("eta = {} is out of range (allowed: 0 to 1)", c.eta));
  if (!(c.clip_range > 0.0)) fail(fmt::format("clip_range = {} must be > 0", c.clip_range));
}

std::string describe_sampler(const SamplerConfig& config) {
  std::string out = to_string(config.kind);
  for (const auto& o : sampler_options()) {
    if (!o.applies_to(config.kind)) continue;
    auto v = o.get(config);
    out += fmt::format(", {} {}", o.key, v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

}  // namespace ddpm

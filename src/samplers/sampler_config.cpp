#include "samplers/sampler_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <type_traits>

namespace ddpm {

template <>
const EnumTable<SamplerKind>& enum_table<SamplerKind>() {
  static const EnumTable<SamplerKind> table{"sampler",
                                            {{SamplerKind::ddpm, "ddpm"},
                                             {SamplerKind::ddim, "ddim"},
                                             {SamplerKind::dpm_solver_pp, "dpm-solver++"},
                                             {SamplerKind::dpm_solver, "dpm-solver"},
                                             {SamplerKind::sde_dpm_solver_pp, "sde-dpm-solver++"},
                                             {SamplerKind::unipc, "unipc"},
                                             {SamplerKind::euler, "euler"},
                                             {SamplerKind::euler_ancestral, "euler-ancestral"},
                                             {SamplerKind::heun, "heun"},
                                             {SamplerKind::pndm, "pndm"}}};
  return table;
}

template <>
const EnumTable<SolverType>& enum_table<SolverType>() {
  static const EnumTable<SolverType> table{"solver type",
                                           {{SolverType::midpoint, "midpoint"},
                                            {SolverType::heun, "heun"},
                                            {SolverType::bh1, "bh1"},
                                            {SolverType::bh2, "bh2"}}};
  return table;
}

template <>
const EnumTable<SigmaInterpolation>& enum_table<SigmaInterpolation>() {
  static const EnumTable<SigmaInterpolation> table{
      "sigma interpolation",
      {{SigmaInterpolation::linear, "linear"}, {SigmaInterpolation::log_linear, "log_linear"}}};
  return table;
}

bool is_stochastic(SamplerKind kind, double eta, double s_churn) {
  switch (kind) {
    case SamplerKind::ddpm:
    case SamplerKind::sde_dpm_solver_pp:
    case SamplerKind::euler_ancestral:
      return true;
    case SamplerKind::ddim:
      return eta > 0;
    case SamplerKind::euler:
      return s_churn > 0;
    case SamplerKind::dpm_solver_pp:
    case SamplerKind::dpm_solver:
    case SamplerKind::unipc:
    case SamplerKind::heun:
    case SamplerKind::pndm:
      return false;
  }
  return true;
}

template <>
const EnumTable<PrevTimestep>& enum_table<PrevTimestep>() {
  static const EnumTable<PrevTimestep> table{
      "previous-timestep rule",
      {{PrevTimestep::diffusers, "diffusers"},
       {PrevTimestep::next_in_sequence, "next-in-sequence"}}};
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
    // The solvers' classes default to linspace spacing and 25 pipeline steps is their usual
    // count; 20 here, the grid people quote for them.
    case SamplerKind::dpm_solver_pp:  // DPMSolverMultistepScheduler.__init__
    case SamplerKind::dpm_solver:
    case SamplerKind::sde_dpm_solver_pp:
      c.steps = 20;
      c.timestep_spacing = TimestepSpacing::linspace;
      c.solver_type = SolverType::midpoint;
      break;
    case SamplerKind::unipc:  // UniPCMultistepScheduler.__init__
      c.steps = 20;
      c.timestep_spacing = TimestepSpacing::linspace;
      c.solver_type = SolverType::bh2;
      break;
    case SamplerKind::euler:  // EulerDiscreteScheduler.__init__, step()'s churn defaults
    case SamplerKind::euler_ancestral:
      c.steps = 20;
      c.timestep_spacing = TimestepSpacing::linspace;
      break;
    case SamplerKind::heun:  // HeunDiscreteScheduler.__init__: clip_sample off
      c.steps = 20;
      c.timestep_spacing = TimestepSpacing::linspace;
      c.clip_sample = false;
      break;
    case SamplerKind::pndm:  // PNDMScheduler.__init__: PRK warm-up, ᾱ_0 after the last step
      c.steps = 50;
      c.set_alpha_to_one = false;
      break;
  }
  return c;
}

SamplerConfig switch_sampler(const SamplerConfig& from, SamplerKind kind) {
  if (from.kind == kind) return from;
  SamplerConfig c = default_sampler_config(kind);
  c.timestep_spacing = from.timestep_spacing;
  c.steps_offset = from.steps_offset;
  c.variance_type = from.variance_type;
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
  if constexpr (std::is_same_v<T, std::vector<int64_t>>)
    return OptionKind::integer_list;
  else if constexpr (std::is_same_v<T, bool>)
    return OptionKind::boolean;
  else if constexpr (std::is_integral_v<T>)
    return OptionKind::integer;
  else if constexpr (std::is_floating_point_v<T>)
    return OptionKind::real;
  else
    return OptionKind::choice;
}

/// ±∞ are written as the strings "Infinity"/"-Infinity" (JSON has no infinities; Python's json,
/// which writes diffusers' configs, spells them as bare Infinity/-Infinity).
json real_to_json(double v) {
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

std::optional<double> real_from_json(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const auto s = v.get<std::string>();
    if (s == "Infinity" || s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity" || s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  return std::nullopt;
}

/// An option stored in one member of SamplerConfig.
template <typename T>
SamplerOption field(std::string key, std::string flag, T SamplerConfig::*member, std::string help,
                    std::vector<SamplerKind> samplers = {}, bool flag_value = true,
                    std::string opposite_flag = "") {
  SamplerOption o;
  o.opposite_flag = std::move(opposite_flag);
  o.key = key;
  o.flag = std::move(flag);
  o.kind = kind_of<T>();
  o.help = std::move(help);
  o.samplers = std::move(samplers);
  o.flag_value = flag_value;
  if constexpr (kind_of<T>() == OptionKind::choice)
    for (const auto& [value, name] : enum_table<T>().entries) o.choices.push_back(name);
  o.get = [member](const SamplerConfig& c) -> json {
    if constexpr (kind_of<T>() == OptionKind::choice)
      return to_string(c.*member);
    else if constexpr (kind_of<T>() == OptionKind::real)
      return real_to_json(c.*member);
    else
      return c.*member;
  };
  o.set = [member, key](SamplerConfig& c, const json& v) {
    auto fail = [&](const std::string& expected) {
      throw std::invalid_argument(
          fmt::format("{}: expected {}, found {}", key, expected, v.dump()));
    };
    if constexpr (kind_of<T>() == OptionKind::boolean) {
      if (!v.is_boolean()) fail("true or false");
      c.*member = v.get<bool>();
    } else if constexpr (kind_of<T>() == OptionKind::integer) {
      if (!v.is_number_integer()) fail("an integer");
      c.*member = v.get<T>();
    } else if constexpr (kind_of<T>() == OptionKind::real) {
      const auto real = real_from_json(v);
      if (!real) fail("a number (or \"Infinity\", \"-Infinity\")");
      c.*member = *real;
    } else if constexpr (kind_of<T>() == OptionKind::integer_list) {
      if (!v.is_array()) fail("a list of integers");
      T values;
      for (const auto& e : v) {
        if (!e.is_number_integer()) fail("a list of integers");
        values.push_back(e.get<int64_t>());
      }
      c.*member = values;
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
  const std::vector<K> dpm{K::dpm_solver_pp, K::dpm_solver, K::sde_dpm_solver_pp};
  const std::vector<K> multistep{K::dpm_solver_pp, K::dpm_solver, K::sde_dpm_solver_pp, K::unipc};
  const std::vector<K> karras{K::dpm_solver_pp, K::dpm_solver, K::sde_dpm_solver_pp,
                              K::unipc,         K::euler,      K::heun};
  static const std::vector<SamplerOption> options{
      field("steps", "--steps", &SamplerConfig::steps,
            "Inference steps (the grid's length; ddpm: 0 = all T; heun calls the network 2N-1 "
            "times, pndm N+1 or N+9)"),
      field("timestep_spacing", "--timestep-spacing", &SamplerConfig::timestep_spacing,
            "How inference steps are picked from the T training steps (quadratic, uniform, "
            "strided: ddpm, ddim)"),
      field("steps_offset", "--steps-offset", &SamplerConfig::steps_offset,
            "diffusers' steps_offset, added to leading spacing"),
      field("eta", "--eta", &SamplerConfig::eta, "DDIM eta in [0, 1] (0: deterministic)",
            {K::ddim}),
      field("clip_sample", "--no-clip", &SamplerConfig::clip_sample,
            "Do not clip the predicted x0 to [-clip_range, clip_range]",
            {K::ddpm, K::ddim, K::heun},
            /*flag_value=*/false, "--clip"),
      field("clip_range", "--clip-range", &SamplerConfig::clip_range,
            "Clip the predicted x0 to [-R, R] (diffusers' clip_sample_range)",
            {K::ddpm, K::ddim, K::heun}),
      field("variance_type", "--variance-type", &SamplerConfig::variance_type,
            "DDPM posterior variance: fixed_small (beta tilde), fixed_large (beta) or "
            "learned_range (the network's own, 2C output channels; improved DDPM)",
            {K::ddpm}),
      field("set_alpha_to_one", "--no-set-alpha-to-one", &SamplerConfig::set_alpha_to_one,
            "End the chain at alpha_bar_0 instead of 1 (diffusers set_alpha_to_one = false; "
            "pndm's default)",
            {K::ddim, K::pndm}, /*flag_value=*/false, "--set-alpha-to-one"),
      field("ddim_prev_timestep", "--ddim-prev-timestep", &SamplerConfig::ddim_prev_timestep,
            "Step after t: diffusers (t - T//N, diffusers' DDIM and DDPM) or next-in-sequence "
            "(the DDIM paper's code)",
            {K::ddpm, K::ddim}),
      field("use_clipped_model_output", "--use-clipped-model-output",
            &SamplerConfig::use_clipped_model_output,
            "DDIM: re-derive eps from the clipped x0 (diffusers' use_clipped_model_output; "
            "improved-diffusion's ddim_sample)",
            {K::ddim}),
      field("solver_order", "--solver-order", &SamplerConfig::solver_order,
            "Multistep order 1, 2 or 3 (2M: 2)", multistep),
      field("solver_type", "--solver-type", &SamplerConfig::solver_type,
            "Second-order update: midpoint or heun (dpm-solver*), bh1 or bh2 (unipc)", multistep),
      field("lower_order_final", "--no-lower-order-final", &SamplerConfig::lower_order_final,
            "Keep the full order on the last steps (diffusers lower_order_final = false)",
            multistep, /*flag_value=*/false),
      field("thresholding", "--thresholding", &SamplerConfig::thresholding,
            "Dynamic thresholding of the predicted x0 (Imagen)", multistep),
      field("dynamic_thresholding_ratio", "--dynamic-thresholding-ratio",
            &SamplerConfig::dynamic_thresholding_ratio,
            "Quantile of |x0| that dynamic thresholding clips at", multistep),
      field("sample_max_value", "--sample-max-value", &SamplerConfig::sample_max_value,
            "Largest threshold dynamic thresholding may use", multistep),
      field("lambda_min_clipped", "--lambda-min-clipped", &SamplerConfig::lambda_min_clipped,
            "Cut grid steps whose log-SNR/2 lambda(t) is below this (-Infinity: none)", dpm),
      field("use_karras_sigmas", "--karras-sigmas", &SamplerConfig::use_karras_sigmas,
            "Karras et al. (2022) noise levels (rho = 7) between the grid's ends", karras),
      field("predict_x0", "--no-predict-x0", &SamplerConfig::predict_x0,
            "UniPC on the noise model instead of the data model (diffusers predict_x0 = false)",
            {K::unipc}, /*flag_value=*/false),
      field("corrector", "--no-corrector", &SamplerConfig::corrector,
            "UniP alone: no UniC corrector after the steps", {K::unipc}, /*flag_value=*/false),
      field("disable_corrector", "--disable-corrector", &SamplerConfig::disable_corrector,
            "Step indices (comma-separated) whose corrector is skipped", {K::unipc}),
      field("s_churn", "--s-churn", &SamplerConfig::s_churn,
            "Euler churn (Karras et al. 2022): gamma = min(s_churn/N, sqrt 2 - 1)", {K::euler}),
      field("s_tmin", "--s-tmin", &SamplerConfig::s_tmin, "Churn only where sigma >= s_tmin",
            {K::euler}),
      field("s_tmax", "--s-tmax", &SamplerConfig::s_tmax,
            "Churn only where sigma <= s_tmax (Infinity: no bound)", {K::euler}),
      field("s_noise", "--s-noise", &SamplerConfig::s_noise, "Scale of the churn noise",
            {K::euler}),
      field("interpolation_type", "--interpolation-type", &SamplerConfig::interpolation_type,
            "Euler's sigmas between the grid's ends: linear in t or log_linear", {K::euler}),
      field("skip_prk_steps", "--skip-prk-steps", &SamplerConfig::skip_prk_steps,
            "PLMS from the first step, no Runge-Kutta warm-up", {K::pndm}),
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
      throw std::invalid_argument(
          fmt::format("{} is not an option of sampler {} (it applies to: {})", option->flag,
                      to_string(c.kind), samplers_with(*option)));
    option->set(c, value);
  }
  return c;
}

void validate_sampler_config(const SamplerConfig& c, int64_t T) {
  auto fail = [](const std::string& message) { throw std::invalid_argument(message); };
  const bool full_chain_allowed = default_sampler_config(c.kind).steps == 0;
  if (c.steps < (full_chain_allowed ? 0 : 1) || c.steps > T)
    fail(
        fmt::format("steps = {} is out of range for {} (allowed: {} to {}, the model's "
                    "num_train_timesteps{})",
                    c.steps, to_string(c.kind), full_chain_allowed ? 0 : 1, T,
                    full_chain_allowed ? "; 0: the full chain" : ""));
  if (c.steps_offset < 0 || c.steps_offset >= T)
    fail(
        fmt::format("steps_offset = {} is out of range (allowed: 0 to {})", c.steps_offset, T - 1));
  if (c.eta < 0.0 || c.eta > 1.0)
    fail(fmt::format("eta = {} is out of range (allowed: 0 to 1)", c.eta));
  if (!(c.clip_range > 0.0)) fail(fmt::format("clip_range = {} must be > 0", c.clip_range));
  const std::string name = to_string(c.kind);
  const bool discrete = c.kind == SamplerKind::ddpm || c.kind == SamplerKind::ddim;
  if (!discrete && !is_diffusers_spacing(c.timestep_spacing))
    fail(
        fmt::format("timestep_spacing {} is not available with sampler {} (allowed: "
                    "leading, linspace, trailing; quadratic, uniform, strided: ddpm, ddim)",
                    to_string(c.timestep_spacing), name));
  const auto& order_option = sampler_option("solver_order");
  if (order_option.applies_to(c.kind)) {
    const int64_t max_order = c.kind == SamplerKind::sde_dpm_solver_pp ? 2 : 3;
    if (c.solver_order < 1 || c.solver_order > max_order)
      fail(fmt::format("solver_order = {} is out of range for {} (allowed: 1 to {})",
                       c.solver_order, name, max_order));
    const bool unipc = c.kind == SamplerKind::unipc;
    const bool bh = c.solver_type == SolverType::bh1 || c.solver_type == SolverType::bh2;
    if (unipc != bh)
      fail(fmt::format("solver_type {} is not available with sampler {} (allowed: {})",
                       to_string(c.solver_type), name, unipc ? "bh1, bh2" : "midpoint, heun"));
    if (!(c.dynamic_thresholding_ratio > 0.0 && c.dynamic_thresholding_ratio <= 1.0))
      fail(fmt::format("dynamic_thresholding_ratio = {} is out of range (allowed: (0, 1])",
                       c.dynamic_thresholding_ratio));
    if (!(c.sample_max_value > 0.0))
      fail(fmt::format("sample_max_value = {} must be > 0", c.sample_max_value));
  }
  for (int64_t i : c.disable_corrector)
    if (i < 0) fail(fmt::format("disable_corrector holds {} (allowed: step indices >= 0)", i));
  if (!(c.s_churn >= 0.0) || !(c.s_noise >= 0.0))
    fail(fmt::format("s_churn = {} and s_noise = {} must be >= 0", c.s_churn, c.s_noise));
  if (!(c.s_tmin <= c.s_tmax))
    fail(fmt::format("s_tmin = {} must not exceed s_tmax = {}", c.s_tmin, c.s_tmax));
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

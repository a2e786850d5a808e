// Keys and defaults: diffusers 0.21.4 DDPMScheduler.__init__ (scheduling_ddpm.py) and
// DDIMScheduler.__init__ (scheduling_ddim.py); the pipelines' default step counts: DDPMPipeline
// (num_inference_steps = 1000) and DDIMPipeline (num_inference_steps = 50, eta = 0).
#include "runs/scheduler_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "io/json_fields.h"
#include "runs/diffusers_format.h"

namespace ddpm {

namespace {

using nlohmann::json;

void require(bool ok, const std::string& origin, const std::string& message) {
  if (!ok) throw std::invalid_argument(origin + ": " + message);
}

/// A string key whose diffusers spelling maps onto one of ours; absent keeps `field`.
template <typename E>
void read_mapped(const json& config, const std::string& origin, const std::string& key,
                 const std::vector<std::pair<std::string, E>>& allowed, E& field,
                 const std::string& why = "") {
  auto it = config.find(key);
  if (it == config.end()) return;
  std::vector<std::string> names;
  for (const auto& [name, value] : allowed) {
    if (*it == name) {
      field = value;
      return;
    }
    names.push_back(name);
  }
  throw std::invalid_argument(fmt::format("{}: {} = {} is not supported (allowed: {}){}", origin,
                                          key, it->dump(), fmt::join(names, ", "),
                                          why.empty() ? "" : "; " + why));
}

/// One diffusers 0.21.4 scheduler class: its name, the sampler it runs here, its noise-schedule
/// defaults and the sampler keys its __init__ takes (diffusers spelling).
struct SchedulerClass {
  const char* name;
  SamplerKind kind;
  double beta_start = 1e-4, beta_end = 0.02;
  std::vector<std::string> keys;
};

const std::vector<SchedulerClass>& scheduler_classes() {
  using K = SamplerKind;
  const std::vector<std::string> threshold{"thresholding", "dynamic_thresholding_ratio",
                                           "sample_max_value"};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  static const std::vector<SchedulerClass> classes{
      {"DDPMScheduler", K::ddpm, 1e-4, 0.02,
       with({"variance_type", "clip_sample", "clip_sample_range"}, threshold)},
      {"DDIMScheduler", K::ddim, 1e-4, 0.02,
       with({"clip_sample", "clip_sample_range", "set_alpha_to_one", "rescale_betas_zero_snr"},
            threshold)},
      {"DPMSolverMultistepScheduler", K::dpm_solver_pp, 1e-4, 0.02,
       with({"solver_order", "algorithm_type", "solver_type", "lower_order_final",
             "use_karras_sigmas", "lambda_min_clipped", "variance_type"},
            threshold)},
      {"UniPCMultistepScheduler", K::unipc, 1e-4, 0.02,
       with({"solver_order", "predict_x0", "solver_type", "lower_order_final", "disable_corrector",
             "solver_p", "use_karras_sigmas"},
            threshold)},
      {"EulerDiscreteScheduler", K::euler, 1e-4, 0.02, {"interpolation_type", "use_karras_sigmas"}},
      {"EulerAncestralDiscreteScheduler", K::euler_ancestral, 1e-4, 0.02, {}},
      {"HeunDiscreteScheduler",
       K::heun,
       0.00085,
       0.012,
       {"use_karras_sigmas", "clip_sample", "clip_sample_range"}},
      {"PNDMScheduler", K::pndm, 1e-4, 0.02, {"skip_prk_steps", "set_alpha_to_one"}},
  };
  return classes;
}

const SchedulerClass& class_named(const json& config, const std::string& origin) {
  auto it = config.find("_class_name");
  std::vector<std::string> names;
  for (const auto& c : scheduler_classes()) {
    if (it != config.end() && *it == c.name) return c;
    names.push_back(c.name);
  }
  throw std::invalid_argument(fmt::format(
      "{}: _class_name {} is not supported (allowed: {})", origin,
      it == config.end() ? std::string("is absent") : it->dump(), fmt::join(names, ", ")));
}

const SchedulerClass& class_of(SamplerKind kind) {
  for (const auto& c : scheduler_classes())
    if (c.kind == kind) return c;
  // dpm-solver and sde-dpm-solver++ share DPMSolverMultistepScheduler.
  return scheduler_classes()[2];
}

/// DPMSolverMultistepScheduler's algorithm_type ⇄ our sampler names ("deis" runs as
/// dpmsolver++ in diffusers 0.21.4).
const std::vector<std::pair<std::string, SamplerKind>> kAlgorithms{
    {"dpmsolver++", SamplerKind::dpm_solver_pp},
    {"dpmsolver", SamplerKind::dpm_solver},
    {"sde-dpmsolver++", SamplerKind::sde_dpm_solver_pp},
    {"deis", SamplerKind::dpm_solver_pp}};

// diffusers' linear schedule is linspace(beta_start, beta_end, T); this project's linear is DDPM's,
// rescaled by 1000/T (core/beta_schedule.h). The factor that turns one into the other:
double linear_scale(int64_t T) {
  return 1000.0 / double(T);
}

}  // namespace

std::vector<std::string> apply_scheduler_config(const json& config, RunConfig& run,
                                                const std::string& origin) {
  require(config.is_object(), origin,
          "expected a scheduler config (a JSON object), found " + std::string(config.type_name()));
  const SchedulerClass& cls = class_named(config, origin);
  std::vector<std::string> warnings;

  ScheduleConfig schedule;  // T 1000, linear; the class's own β ends
  schedule.beta_start = cls.beta_start;
  schedule.beta_end = cls.beta_end;
  PredictionType prediction = PredictionType::epsilon;
  SamplerKind kind = cls.kind;
  if (auto it = config.find("algorithm_type");
      it != config.end() && cls.kind == SamplerKind::dpm_solver_pp) {
    std::vector<std::string> names;
    bool found = false;
    for (const auto& [name, k] : kAlgorithms) {
      names.push_back(name);
      if (*it == name) kind = k, found = true;
    }
    require(found, origin,
            fmt::format("algorithm_type = {} is not supported (allowed: {})", it->dump(),
                        fmt::join(names, ", ")));
  }
  // The class's defaults; DDIMPipeline's 50 steps, DDPMPipeline's full chain.
  SamplerConfig sampling = default_sampler_config(kind);

  JsonFields in(config, origin);
  for (const auto& item : config.items())
    if (!item.key().empty() && item.key()[0] == '_') in.ignore(item.key());  // bookkeeping

  in.read("num_train_timesteps", schedule.num_train_timesteps);
  in.read("beta_start", schedule.beta_start);
  in.read("beta_end", schedule.beta_end);
  read_mapped<BetaSchedule>(config, origin, "beta_schedule",
                            {{"linear", BetaSchedule::linear},
                             {"scaled_linear", BetaSchedule::scaled_linear},
                             {"squaredcos_cap_v2", BetaSchedule::squaredcos_cap_v2}},
                            schedule.beta_schedule);
  in.ignore("beta_schedule");
  if (auto it = config.find("trained_betas"); it != config.end() && !it->is_null()) {
    require(it->is_array() && !it->empty(), origin,
            "trained_betas must be null or a list of numbers, found " + it->dump());
    std::vector<double> betas;
    for (const auto& b : *it) {
      require(b.is_number(), origin, "trained_betas must hold numbers, found " + b.dump());
      betas.push_back(b.get<double>());
    }
    schedule.trained_betas = betas;
  }
  in.ignore("trained_betas");
  read_mapped<PredictionType>(config, origin, "prediction_type",
                              {{"epsilon", PredictionType::epsilon},
                               {"sample", PredictionType::sample},
                               {"v_prediction", PredictionType::v_prediction}},
                              prediction);
  in.ignore("prediction_type");
  read_mapped<TimestepSpacing>(config, origin, "timestep_spacing",
                               {{"leading", TimestepSpacing::leading},
                                {"linspace", TimestepSpacing::linspace},
                                {"trailing", TimestepSpacing::trailing}},
                               sampling.timestep_spacing);
  in.ignore("timestep_spacing");
  in.read("steps_offset", sampling.steps_offset);

  // The class's sampler keys.
  auto set_option = [&](const std::string& key, const std::string& option) {
    auto it = config.find(key);
    in.ignore(key);
    if (it == config.end()) return;
    try {
      sampler_option(option).set(sampling, *it);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(origin + ": " + e.what());
    }
  };
  const bool discrete = kind == SamplerKind::ddpm || kind == SamplerKind::ddim;
  for (const std::string& key : cls.keys) {
    if (key == "clip_sample_range")
      set_option(key, "clip_range");
    else if (key == "algorithm_type")
      in.ignore(key);
    else if (key == "variance_type" && kind == SamplerKind::ddpm) {
      // DDPMScheduler._get_variance: the *_log variants compute the same σ through log/exp.
      read_mapped<VarianceType>(config, origin, "variance_type",
                                {{"fixed_small", VarianceType::fixed_small},
                                 {"fixed_small_log", VarianceType::fixed_small},
                                 {"fixed_large", VarianceType::fixed_large},
                                 {"fixed_large_log", VarianceType::fixed_large},
                                 {"learned_range", VarianceType::learned_range}},
                                sampling.variance_type,
                                "\"learned\" (a raw log variance) is not supported; "
                                "learned_range (improved DDPM's interpolation, 2C outputs) is");
      in.ignore(key);
    } else if (key == "variance_type" || key == "solver_p") {
      auto it = config.find(key);
      require(it == config.end() || it->is_null(), origin,
              fmt::format("{} = {} is not supported (allowed: null)", key,
                          it == config.end() ? "" : it->dump()));
      in.ignore(key);
    } else if (key == "rescale_betas_zero_snr") {
      bool on = false;
      in.read(key, on);
      require(!on, origin, "rescale_betas_zero_snr = true is not supported (allowed: false)");
    } else if (key == "solver_type") {
      // DPMSolverMultistep maps UniPC's names to midpoint and UniPC maps DPM's to bh2.
      auto it = config.find(key);
      in.ignore(key);
      if (it == config.end()) continue;
      const bool unipc = kind == SamplerKind::unipc;
      const std::vector<std::string> own = unipc ? std::vector<std::string>{"bh1", "bh2"}
                                                 : std::vector<std::string>{"midpoint", "heun"};
      const std::vector<std::string> other =
          unipc ? std::vector<std::string>{"midpoint", "heun", "logrho"}
                : std::vector<std::string>{"bh1", "bh2", "logrho"};
      const std::string v = it->is_string() ? it->get<std::string>() : it->dump();
      if (std::find(own.begin(), own.end(), v) != own.end())
        sampling.solver_type = parse_enum<SolverType>(v);
      else if (std::find(other.begin(), other.end(), v) != other.end())
        sampling.solver_type = unipc ? SolverType::bh2 : SolverType::midpoint;
      else
        throw std::invalid_argument(
            fmt::format("{}: solver_type = {} is not supported (allowed: {})", origin, it->dump(),
                        fmt::join(own, ", ")));
    } else if (discrete && key == "thresholding") {
      bool on = false;
      in.read(key, on);
      require(!on, origin,
              "thresholding = true (dynamic thresholding, Imagen) is not supported with " +
                  std::string(cls.name) +
                  " (allowed: false; it is with DPMSolverMultistepScheduler "
                  "and UniPCMultistepScheduler)");
    } else if (discrete && (key == "dynamic_thresholding_ratio" || key == "sample_max_value")) {
      in.ignore(key);  // only read when thresholding
    } else {
      set_option(key, key);
    }
  }
  // Keys of another class or of no class: diffusers' from_config ignores them too.
  for (const auto& item : config.items()) {
    const auto& key = item.key();
    if (key.empty() || key[0] == '_' || in.known(key)) continue;
    warnings.push_back(
        fmt::format("{}: key {} is not a {} setting; ignored", origin, key, cls.name));
    in.ignore(key);
  }
  in.finish();

  if (!schedule.trained_betas && schedule.beta_schedule == BetaSchedule::linear) {
    schedule.beta_start /= linear_scale(schedule.num_train_timesteps);
    schedule.beta_end /= linear_scale(schedule.num_train_timesteps);
  }
  try {
    make_betas(schedule);
  } catch (const c10::Error& e) {
    throw std::invalid_argument(origin + ": " + e.what_without_backtrace());
  }
  sampling.steps = std::min(sampling.steps, schedule.num_train_timesteps);
  try {
    validate_sampler_config(sampling, schedule.num_train_timesteps);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(origin + ": " + e.what());
  }
  run.schedule = schedule;
  run.prediction_type = prediction;
  run.sampling.sampler = sampling;
  return warnings;
}

json scheduler_config_to_diffusers(const RunConfig& run) {
  const auto& s = run.schedule;
  const auto& sampling = run.sampling.sampler;
  if (!is_diffusers_spacing(sampling.timestep_spacing))
    throw std::invalid_argument("sampling.timestep_spacing " +
                                to_string(sampling.timestep_spacing) +
                                " has no diffusers equivalent (allowed: leading, linspace, "
                                "trailing)");
  const SchedulerClass& cls = class_of(sampling.kind);
  json j{{"_class_name", cls.name},
         {"_diffusers_version", kDiffusersVersion},
         {"beta_end", s.beta_end},
         {"beta_schedule", "linear"},
         {"beta_start", s.beta_start},
         {"num_train_timesteps", s.num_train_timesteps},
         {"prediction_type", to_string(run.prediction_type)},
         {"steps_offset", sampling.steps_offset},
         {"timestep_spacing", to_string(sampling.timestep_spacing)},
         {"trained_betas", nullptr}};
  for (const std::string& key : cls.keys) {
    if (key == "clip_sample_range")
      j[key] = sampling.clip_range;
    else if (key == "algorithm_type") {
      for (const auto& [name, k] : kAlgorithms)
        if (k == sampling.kind) {
          j[key] = name;
          break;
        }
    } else if (key == "variance_type")
      j[key] =
          sampling.kind == SamplerKind::ddpm ? json(to_string(sampling.variance_type)) : json();
    else if (key == "solver_p")
      j[key] = nullptr;
    else if (key == "disable_corrector" && !sampling.corrector) {
      // No corrector at all: every step index of the grid.
      std::vector<int64_t> all;
      for (int64_t i = 0; i < std::max<int64_t>(sampling.steps, 1); ++i) all.push_back(i);
      j[key] = all;
    } else if (key == "rescale_betas_zero_snr")
      j[key] = false;
    else if (sampling.kind == SamplerKind::ddpm || sampling.kind == SamplerKind::ddim) {
      if (key == "thresholding")
        j[key] = false;
      else if (key == "dynamic_thresholding_ratio")
        j[key] = 0.995;
      else if (key == "sample_max_value")
        j[key] = 1.0;
      else
        j[key] = sampler_option(key).get(sampling);
    } else {
      j[key] = sampler_option(key).get(sampling);
    }
  }
  if (s.trained_betas) {
    j["trained_betas"] = *s.trained_betas;
    if (s.beta_schedule != BetaSchedule::keras_cosine)
      j["beta_schedule"] = to_string(s.beta_schedule);
  } else if (s.beta_schedule == BetaSchedule::keras_cosine) {
    // No diffusers name: write the β it gives, which diffusers reads as they are.
    auto betas = make_betas(s);
    j["trained_betas"] =
        std::vector<double>(betas.data_ptr<double>(), betas.data_ptr<double>() + betas.numel());
  } else {
    j["beta_schedule"] = to_string(s.beta_schedule);
    if (s.beta_schedule == BetaSchedule::linear) {
      j["beta_start"] = s.beta_start * linear_scale(s.num_train_timesteps);
      j["beta_end"] = s.beta_end * linear_scale(s.num_train_timesteps);
    }
  }
  return j;
}

std::string dump_python_json(const json& config, int indent) {
  std::string text = config.dump(indent);
  for (const char* token : {"-Infinity", "Infinity", "NaN"}) {
    const std::string quoted = std::string(": \"") + token + "\"";
    for (size_t at = text.find(quoted); at != std::string::npos; at = text.find(quoted, at))
      text.replace(at, quoted.size(), std::string(": ") + token);
  }
  return text;
}

}  // namespace ddpm

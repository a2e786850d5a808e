// Keys and defaults: diffusers 0.21.4 DDPMScheduler.__init__ (scheduling_ddpm.py) and
// DDIMScheduler.__init__ (scheduling_ddim.py); the pipelines' default step counts: DDPMPipeline
// (num_inference_steps = 1000) and DDIMPipeline (num_inference_steps = 50, eta = 0).
#include "pipeline/scheduler_config.h"

#include <fmt/format.h>

#include <stdexcept>

#include "io/json_fields.h"
#include "pipeline/diffusers_format.h"

namespace ddpm {

namespace {

using nlohmann::json;

constexpr const char* kDDPMScheduler = "DDPMScheduler";
constexpr const char* kDDIMScheduler = "DDIMScheduler";

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

// diffusers' linear schedule is linspace(beta_start, beta_end, T); this project's linear is DDPM's,
// rescaled by 1000/T (core/beta_schedule.h). The factor that turns one into the other:
double linear_scale(int64_t T) {
  return 1000.0 / double(T);
}

}  // namespace

void apply_scheduler_config(const json& config, RunConfig& run, const std::string& origin) {
  require(config.is_object(), origin,
          "expected a scheduler config (a JSON object), found " + std::string(config.type_name()));
  auto class_name = config.find("_class_name");
  require(class_name != config.end() &&
              (*class_name == kDDPMScheduler || *class_name == kDDIMScheduler),
          origin,
          "_class_name " +
              (class_name == config.end() ? std::string("is absent") : class_name->dump()) +
              " is not supported (allowed: DDPMScheduler, DDIMScheduler)");
  const bool ddim = *class_name == kDDIMScheduler;

  ScheduleConfig schedule;  // = both schedulers' defaults: T 1000, linear 1e-4 .. 0.02
  PredictionType prediction = PredictionType::epsilon;
  // The class's defaults; DDIMPipeline's 50 steps, DDPMPipeline's full chain.
  SamplerConfig sampling = default_sampler_config(ddim ? SamplerKind::ddim : SamplerKind::ddpm);

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

  in.read("clip_sample", sampling.clip_sample);
  in.read("clip_sample_range", sampling.clip_range);
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
  // DDPMScheduler._get_variance: the *_log variants compute the same σ through log/exp.
  read_mapped<VarianceType>(config, origin, "variance_type",
                            {{"fixed_small", VarianceType::fixed_small},
                             {"fixed_small_log", VarianceType::fixed_small},
                             {"fixed_large", VarianceType::fixed_large},
                             {"fixed_large_log", VarianceType::fixed_large}},
                            sampling.variance_type,
                            "learned variances need a network predicting them, which this "
                            "project does not train or sample");
  in.ignore("variance_type");
  in.read("set_alpha_to_one", sampling.set_alpha_to_one);

  bool thresholding = false, rescale_zero_snr = false;
  in.read("thresholding", thresholding);
  require(!thresholding, origin,
          "thresholding = true (dynamic thresholding, Imagen) is not supported (allowed: false)");
  in.read("rescale_betas_zero_snr", rescale_zero_snr);
  require(!rescale_zero_snr, origin,
          "rescale_betas_zero_snr = true is not supported (allowed: false)");
  double unused = 0;
  in.read("dynamic_thresholding_ratio", unused);  // read only when thresholding
  in.read("sample_max_value", unused);            // read only when thresholding
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
  require(sampling.clip_range > 0, origin, "clip_sample_range must be > 0");
  require(sampling.steps_offset >= 0 && sampling.steps_offset < schedule.num_train_timesteps,
          origin, "steps_offset must be in [0, num_train_timesteps)");
  run.schedule = schedule;
  run.prediction_type = prediction;
  run.sampling.sampler = sampling;
}

json scheduler_config_to_diffusers(const RunConfig& run) {
  const auto& s = run.schedule;
  const auto& sampling = run.sampling.sampler;
  if (sampling.timestep_spacing == TimestepSpacing::quadratic)
    throw std::invalid_argument(
        "sampling.timestep_spacing quadratic has no diffusers equivalent (allowed: leading, "
        "linspace, trailing)");
  const bool ddim = sampling.kind == SamplerKind::ddim;
  json j{{"_class_name", ddim ? kDDIMScheduler : kDDPMScheduler},
         {"_diffusers_version", kDiffusersVersion},
         {"beta_end", s.beta_end},
         {"beta_schedule", "linear"},
         {"beta_start", s.beta_start},
         {"clip_sample", sampling.clip_sample},
         {"clip_sample_range", sampling.clip_range},
         {"dynamic_thresholding_ratio", 0.995},
         {"num_train_timesteps", s.num_train_timesteps},
         {"prediction_type", to_string(run.prediction_type)},
         {"sample_max_value", 1.0},
         {"steps_offset", sampling.steps_offset},
         {"thresholding", false},
         {"timestep_spacing", to_string(sampling.timestep_spacing)},
         {"trained_betas", nullptr}};
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
  if (ddim) {
    j["rescale_betas_zero_snr"] = false;
    j["set_alpha_to_one"] = sampling.set_alpha_to_one;
  } else {
    j["variance_type"] = to_string(sampling.variance_type);
  }
  return j;
}

}  // namespace ddpm

#include "runs/run_config.h"

#include <cmath>
#include <map>
#include <set>

#include "io/json_fields.h"
#include "models/presets.h"

namespace ddpm {

// Generated at build time from configs/*.json (CMakeLists.txt).
const std::map<std::string, std::string>& embedded_presets();

template <>
const EnumTable<LossType>& enum_table<LossType>() {
  static const EnumTable<LossType> table{
      "loss", {{LossType::mse, "mse"}, {LossType::l1, "l1"}, {LossType::hybrid, "hybrid"}}};
  return table;
}

template <>
const EnumTable<WeightsKind>& enum_table<WeightsKind>() {
  static const EnumTable<WeightsKind> table{"weights",
                                            {{WeightsKind::ema, "ema"}, {WeightsKind::raw, "raw"}}};
  return table;
}

template <>
const EnumTable<EvalMetric>& enum_table<EvalMetric>() {
  static const EnumTable<EvalMetric> table{"eval metric",
                                           {{EvalMetric::kid, "kid"}, {EvalMetric::fd, "fd"}}};
  return table;
}

namespace {

using nlohmann::json;

json schedule_to_json(const ScheduleConfig& s) {
  json j{{"num_train_timesteps", s.num_train_timesteps},
         {"beta_schedule", to_string(s.beta_schedule)},
         {"beta_start", s.beta_start},
         {"beta_end", s.beta_end},
         {"max_signal_rate", s.max_signal_rate},
         {"min_signal_rate", s.min_signal_rate},
         {"trained_betas", nullptr}};
  if (s.trained_betas) j["trained_betas"] = *s.trained_betas;
  return j;
}

ScheduleConfig schedule_from_json(const json& j) {
  ScheduleConfig s;
  JsonFields in(j, "schedule");
  in.read("num_train_timesteps", s.num_train_timesteps);
  in.read_enum("beta_schedule", s.beta_schedule);
  in.read("beta_start", s.beta_start);
  in.read("beta_end", s.beta_end);
  in.read("max_signal_rate", s.max_signal_rate);
  in.read("min_signal_rate", s.min_signal_rate);
  in.read("trained_betas", s.trained_betas);
  in.finish();
  return s;
}

json training_to_json(const TrainingConfig& t) {
  return {{"steps", t.steps},
          {"epochs", t.epochs},
          {"batch_size", t.batch_size},
          {"lr", t.lr},
          {"weight_decay", t.weight_decay},
          {"adam_beta1", t.adam_beta1},
          {"adam_beta2", t.adam_beta2},
          {"adam_eps", t.adam_eps},
          {"warmup_steps", t.warmup_steps},
          {"grad_clip", t.grad_clip},
          {"max_bad_steps", t.max_bad_steps},
          {"loss", to_string(t.loss)},
          {"ema_decay", t.ema_decay},
          {"ema_warmup", t.ema_warmup},
          {"sample_every", t.sample_every},
          {"checkpoint_every", t.checkpoint_every},
          {"log_every", t.log_every},
          {"sample_images", t.sample_images},
          {"sample_steps", t.sample_steps},
          {"seed", t.seed},
          {"device", t.device},
          {"precision", to_string(t.precision)},
          {"threads", t.threads},
          {"init", t.init},
          {"init_weights", to_string(t.init_weights)},
          {"eval_every", t.eval_every},
          {"eval_metric", to_string(t.eval_metric)},
          {"eval_samples", t.eval_samples},
          {"eval_steps", t.eval_steps},
          {"eval_inception", t.eval_inception},
          {"label_dropout", t.label_dropout}};
}

TrainingConfig training_from_json(const json& j) {
  TrainingConfig t;
  JsonFields in(j, "training");
  in.read("steps", t.steps);
  in.read("epochs", t.epochs);
  in.read("batch_size", t.batch_size);
  in.read("lr", t.lr);
  in.read("weight_decay", t.weight_decay);
  in.read("adam_beta1", t.adam_beta1);
  in.read("adam_beta2", t.adam_beta2);
  in.read("adam_eps", t.adam_eps);
  in.read("warmup_steps", t.warmup_steps);
  in.read("grad_clip", t.grad_clip);
  in.read("max_bad_steps", t.max_bad_steps);
  in.read_enum("loss", t.loss);
  in.read("ema_decay", t.ema_decay);
  in.read("ema_warmup", t.ema_warmup);
  in.read("sample_every", t.sample_every);
  in.read("checkpoint_every", t.checkpoint_every);
  in.read("log_every", t.log_every);
  in.read("sample_images", t.sample_images);
  in.read("sample_steps", t.sample_steps);
  in.read("seed", t.seed);
  in.read("device", t.device);
  in.read_enum("precision", t.precision);
  in.read("threads", t.threads);
  in.read("init", t.init);
  in.read_enum("init_weights", t.init_weights);
  in.read("eval_every", t.eval_every);
  in.read_enum("eval_metric", t.eval_metric);
  in.read("eval_samples", t.eval_samples);
  in.read("eval_steps", t.eval_steps);
  in.read("eval_inception", t.eval_inception);
  in.read("label_dropout", t.label_dropout);
  in.finish();
  return t;
}

json classes_to_json(const ClassesConfig& c) {
  return {{"conditional", c.conditional},
          {"num_classes", c.num_classes},
          {"null_class", c.null_class},
          {"names", c.names}};
}

ClassesConfig classes_from_json(const json& j) {
  ClassesConfig c;
  JsonFields in(j, "classes");
  in.read("conditional", c.conditional);
  in.read("num_classes", c.num_classes);
  in.read("null_class", c.null_class);
  in.read("names", c.names);
  in.finish();
  return c;
}

json sampling_to_json(const SamplingConfig& s) {
  json j = sampler_config_to_json(s.sampler);
  // The variance belongs to the model (learned_range: the network outputs v), not to the sampler
  // chosen by default, so the run keeps it whichever sampler that is.
  j["variance_type"] = to_string(s.sampler.variance_type);
  j["precision"] = to_string(s.precision);
  j["cuda_graphs"] = s.cuda_graphs;
  j["guidance_scale"] = s.guidance_scale;
  return j;
}

SamplingConfig sampling_from_json(const json& j) {
  SamplingConfig s;
  JsonFields in(j, "sampling");
  std::set<std::string> sampler_keys;
  read_sampler_config(j, "sampling", s.sampler, sampler_keys);
  for (const auto& key : sampler_keys) in.ignore(key);
  in.read_enum("precision", s.precision);
  in.read("cuda_graphs", s.cuda_graphs);
  in.read("guidance_scale", s.guidance_scale);
  in.finish();
  return s;
}

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

void validate(const RunConfig& c) {
  const auto& t = c.training;
  require(t.steps >= 0 && t.epochs >= 0, "training.steps and training.epochs must be >= 0");
  require(t.batch_size >= 1,
          "training.batch_size must be >= 1, got " + std::to_string(t.batch_size));
  require(t.lr > 0, "training.lr must be > 0");
  require(t.weight_decay >= 0, "training.weight_decay must be >= 0");
  require(t.adam_beta1 >= 0 && t.adam_beta1 < 1 && t.adam_beta2 >= 0 && t.adam_beta2 < 1,
          "training.adam_beta1 and adam_beta2 must be in [0, 1)");
  require(t.adam_eps > 0, "training.adam_eps must be > 0");
  require(t.warmup_steps >= 0, "training.warmup_steps must be >= 0");
  require(t.grad_clip >= 0, "training.grad_clip must be >= 0 (0 disables clipping)");
  require(t.max_bad_steps >= 1,
          "training.max_bad_steps must be >= 1, got " + std::to_string(t.max_bad_steps));
  require(t.ema_decay >= 0 && t.ema_decay < 1, "training.ema_decay must be in [0, 1)");
  require(t.sample_every >= 0 && t.checkpoint_every >= 0,
          "training.sample_every and "
          "training.checkpoint_every must be >= 0");
  require(t.log_every >= 1, "training.log_every must be >= 1");
  require(t.sample_images >= 1 && t.sample_steps >= 1,
          "training.sample_images and training.sample_steps must be >= 1");
  require(t.threads >= 0, "training.threads must be >= 0");
  require(t.eval_every >= 0, "training.eval_every must be >= 0 (0: never)");
  require(t.eval_samples >= 2,
          "training.eval_samples must be >= 2, got " + std::to_string(t.eval_samples));
  require(t.eval_steps >= 1 && t.eval_steps <= c.schedule.num_train_timesteps,
          "training.eval_steps must be in [1, num_train_timesteps], got " +
              std::to_string(t.eval_steps));
  require(t.device == "auto" || t.device == "cpu" || t.device.rfind("cuda", 0) == 0,
          "training.device must be auto, cpu, cuda or cuda:N, got '" + t.device + "'");
  require(t.precision != Precision::fp16 || t.device != "cpu",
          "training.precision fp16 needs a CUDA device (LibTorch's CPU autocast runs bfloat16 "
          "only); use bf16 or fp32 on the CPU");
  require(t.loss != LossType::hybrid || c.data.normalization == Normalization::minus_one_one,
          "training.loss hybrid needs data.normalization [-1,1]: its L_vlb decodes x_0 into the "
          "256 bins of [-1, 1] (DDPM eq. 13)");
  require(t.label_dropout >= 0 && t.label_dropout < 1,
          "training.label_dropout must be in [0, 1), got " + std::to_string(t.label_dropout));
  require(std::isfinite(c.sampling.guidance_scale) && c.sampling.guidance_scale >= 0,
          "sampling.guidance_scale must be a finite number >= 0, got " +
              std::to_string(c.sampling.guidance_scale));
  const auto& k = c.classes;
  require(k.num_classes >= 0, "classes.num_classes must be >= 0");
  require(
      k.names.empty() || int64_t(k.names.size()) == k.num_classes,
      fmt::format("classes.names lists {} names for {} classes", k.names.size(), k.num_classes));
  require(k.null_class >= -1 &&
              (c.model.num_class_embeds == 0 || k.null_class < c.model.num_class_embeds),
          fmt::format("classes.null_class must be -1 (none) or a label in [0, {}) "
                      "(model.num_class_embeds), got {}",
                      c.model.num_class_embeds, k.null_class));
  if (k.conditional && k.num_classes > 0)
    require(c.model.num_class_embeds >= k.num_classes,
            fmt::format("classes.num_classes is {} but model.num_class_embeds is {}", k.num_classes,
                        c.model.num_class_embeds));
  try {
    validate_sampler_config(c.sampling.sampler, c.schedule.num_train_timesteps);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("sampling.") + e.what());
  }
  make_betas(c.schedule);  // throws on a bad schedule
}

}  // namespace

json to_json(const RunConfig& c) {
  json j{{"preset", c.preset},
         {"model", to_json(c.model)},
         {"schedule", schedule_to_json(c.schedule)},
         {"prediction_type", to_string(c.prediction_type)},
         {"data", to_json(c.data)},
         {"classes", classes_to_json(c.classes)},
         {"training", training_to_json(c.training)},
         {"sampling", sampling_to_json(c.sampling)}};
  if (!c.autoencoder.empty()) j["autoencoder"] = c.autoencoder;
  return j;
}

RunConfig run_config_from_json(const json& j) {
  RunConfig c;
  JsonFields in(j, "config");
  in.read("preset", c.preset);
  c.model = unet_config_from_json(in.section("model"));
  c.schedule = schedule_from_json(in.section("schedule"));
  in.read_enum("prediction_type", c.prediction_type);
  c.data = data_config_from_json(in.section("data"));
  if (j.contains("classes")) c.classes = classes_from_json(in.section("classes"));
  c.training = training_from_json(in.section("training"));
  c.sampling = sampling_from_json(in.section("sampling"));
  in.read("autoencoder", c.autoencoder);
  in.finish();
  validate(c);
  return c;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, text] : embedded_presets()) names.push_back(name);
  return names;
}

json parse_json_with_comments(const std::string& text, const std::string& origin) {
  try {
    return json::parse(text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    throw std::invalid_argument(origin + ": invalid JSON: " + e.what());
  }
}

json preset_json(const std::string& name) {
  const auto& presets = embedded_presets();
  auto it = presets.find(name);
  if (it == presets.end()) {
    std::string allowed;
    for (const auto& n : preset_names()) allowed += (allowed.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown preset '" + name + "' (allowed: " + allowed + ")");
  }
  return parse_json_with_comments(it->second, "configs/" + name + ".json");
}

void merge_run_config_patch(json& resolved, const json& patch) {
  json p = patch;
  if (p.contains("training") && p["training"].is_object()) {
    auto& t = p["training"];
    const bool sets_steps = t.contains("steps"), sets_epochs = t.contains("epochs");
    if (sets_steps && sets_epochs && t["steps"].is_number() && t["epochs"].is_number() &&
        t["steps"].get<double>() > 0 && t["epochs"].get<double>() > 0)
      throw std::invalid_argument(
          "training.steps and training.epochs are both set: give the run's length as one of them");
    if (sets_epochs && !sets_steps) t["steps"] = 0;
  }
  resolved.merge_patch(p);
}

RunConfig resolve_run_config(const std::string& preset, const std::vector<json>& patches) {
  std::string name = preset;
  for (const auto& p : patches)
    if (p.contains("preset")) name = p.at("preset").get<std::string>();
  RunConfig defaults;
  defaults.preset = name;
  json resolved = to_json(defaults);
  json recipe = preset_json(name);
  // A recipe names its architecture; the model section then patches that preset.
  std::string model_name = recipe.value("model_preset", name);
  recipe.erase("model_preset");
  resolved["model"] = to_json(model_preset(model_name));
  resolved.merge_patch(recipe);
  for (const auto& p : patches) merge_run_config_patch(resolved, p);
  resolved["preset"] = name;
  return run_config_from_json(resolved);
}

void resolve_classes(RunConfig& config, const std::vector<json>& patches,
                     const std::vector<std::string>& class_names, bool has_labels,
                     const std::string& no_labels_reason) {
  auto& k = config.classes;
  bool embeds_set = false;
  for (const auto& p : patches)
    if (p.contains("model") && p["model"].contains("num_class_embeds")) embeds_set = true;
  if (!k.conditional) {
    if (config.model.num_class_embeds > 0)
      throw std::invalid_argument(fmt::format(
          "the model has num_class_embeds = {} but the run is not class-conditional (add "
          "--class-conditional, or leave num_class_embeds out)",
          config.model.num_class_embeds));
    return;
  }
  if (!has_labels)
    throw std::invalid_argument("--class-conditional needs labelled data: " + no_labels_reason);
  const auto K = int64_t(class_names.size());
  if (K < 2)
    throw std::invalid_argument(
        fmt::format("--class-conditional needs at least 2 classes, the data has {}", K));
  k.num_classes = K;
  k.null_class = K;
  k.names = class_names;
  if (!embeds_set) config.model.num_class_embeds = K + 1;
  if (config.model.num_class_embeds != K + 1)
    throw std::invalid_argument(fmt::format(
        "model.num_class_embeds is {} but a run with {} classes needs {} (the {} classes and "
        "the null class {})",
        config.model.num_class_embeds, K, K + 1, K, K));
  validate(config.model);
  validate(config);
}

void resolve_data_shape(RunConfig& config, const std::vector<json>& patches, int64_t image_size,
                        int64_t channels) {
  auto set_by_user = [&](const char* section, const char* key) {
    for (const auto& p : patches)
      if (p.contains(section) && p[section].contains(key)) return true;
    return false;
  };
  if (!set_by_user("model", "sample_size")) config.model.sample_size = image_size;
  if (!set_by_user("model", "in_channels")) config.model.in_channels = channels;
  // L_hybrid trains Σ_θ too: the network returns [prediction, v], 2·C channels (improved DDPM
  // §3.1), and DDPM sampling uses them unless the run chose its variance.
  const bool hybrid = config.training.loss == LossType::hybrid;
  if (!set_by_user("model", "out_channels"))
    config.model.out_channels = hybrid ? 2 * channels : channels;
  if (hybrid) {
    if (!set_by_user("sampling", "variance_type"))
      config.sampling.sampler.variance_type = VarianceType::learned_range;
    if (config.model.out_channels != 2 * channels)
      throw std::invalid_argument(fmt::format(
          "training.loss hybrid learns the variances: the model needs out_channels = {} (2 x {} "
          "channels: the prediction, then v), got {}",
          2 * channels, channels, config.model.out_channels));
  }
  if (config.model.sample_size != image_size || config.model.in_channels != channels)
    throw std::invalid_argument(fmt::format(
        "the model takes {}x{} images with {} channels but the data has {}x{} with {} channels",
        config.model.sample_size, config.model.sample_size, config.model.in_channels, image_size,
        image_size, channels));
  validate(config.model);
}

}  // namespace ddpm

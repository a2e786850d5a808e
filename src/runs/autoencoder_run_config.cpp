#include "runs/autoencoder_run_config.h"

#include <fmt/format.h>

#include "io/json_fields.h"
#include "runs/run_config.h"

namespace ddpm {

const std::map<std::string, std::string>& embedded_autoencoder_presets();

using nlohmann::json;

template <>
const EnumTable<ReconstructionLoss>& enum_table<ReconstructionLoss>() {
  static const EnumTable<ReconstructionLoss> table{
      "reconstruction loss", {{ReconstructionLoss::l1, "l1"}, {ReconstructionLoss::mse, "mse"}}};
  return table;
}

namespace {

json to_json(const AutoencoderTrainingConfig& t) {
  return {{"steps", t.steps},
          {"batch_size", t.batch_size},
          {"lr", t.lr},
          {"adam_beta1", t.adam_beta1},
          {"adam_beta2", t.adam_beta2},
          {"adam_eps", t.adam_eps},
          {"weight_decay", t.weight_decay},
          {"warmup_steps", t.warmup_steps},
          {"grad_clip", t.grad_clip},
          {"max_bad_steps", t.max_bad_steps},
          {"reconstruction_loss", to_string(t.reconstruction_loss)},
          {"kl_weight", t.kl_weight},
          {"vq_beta", t.vq_beta},
          {"ema_decay", t.ema_decay},
          {"ema_warmup", t.ema_warmup},
          {"sample_every", t.sample_every},
          {"checkpoint_every", t.checkpoint_every},
          {"log_every", t.log_every},
          {"sample_images", t.sample_images},
          {"eval_images", t.eval_images},
          {"scale_images", t.scale_images},
          {"seed", t.seed},
          {"device", t.device},
          {"threads", t.threads}};
}

AutoencoderTrainingConfig training_from_json(const json& j) {
  AutoencoderTrainingConfig t;
  JsonFields in(j, "training");
  in.read("steps", t.steps);
  in.read("batch_size", t.batch_size);
  in.read("lr", t.lr);
  in.read("adam_beta1", t.adam_beta1);
  in.read("adam_beta2", t.adam_beta2);
  in.read("adam_eps", t.adam_eps);
  in.read("weight_decay", t.weight_decay);
  in.read("warmup_steps", t.warmup_steps);
  in.read("grad_clip", t.grad_clip);
  in.read("max_bad_steps", t.max_bad_steps);
  in.read_enum("reconstruction_loss", t.reconstruction_loss);
  in.read("kl_weight", t.kl_weight);
  in.read("vq_beta", t.vq_beta);
  in.read("ema_decay", t.ema_decay);
  in.read("ema_warmup", t.ema_warmup);
  in.read("sample_every", t.sample_every);
  in.read("checkpoint_every", t.checkpoint_every);
  in.read("log_every", t.log_every);
  in.read("sample_images", t.sample_images);
  in.read("eval_images", t.eval_images);
  in.read("scale_images", t.scale_images);
  in.read("seed", t.seed);
  in.read("device", t.device);
  in.read("threads", t.threads);
  in.finish();
  auto positive = [](const char* key, double v) {
    if (!(v > 0))
      throw std::invalid_argument(fmt::format("training.{} must be positive, found {}", key, v));
  };
  auto non_negative = [](const char* key, double v) {
    if (!(v >= 0))
      throw std::invalid_argument(fmt::format("training.{} must be >= 0, found {}", key, v));
  };
  positive("steps", double(t.steps));
  positive("batch_size", double(t.batch_size));
  positive("lr", t.lr);
  positive("log_every", double(t.log_every));
  positive("max_bad_steps", double(t.max_bad_steps));
  positive("sample_images", double(t.sample_images));
  positive("eval_images", double(t.eval_images));
  positive("scale_images", double(t.scale_images));
  for (auto [key, v] : {std::pair{"warmup_steps", double(t.warmup_steps)},
                        {"grad_clip", t.grad_clip},
                        {"kl_weight", t.kl_weight},
                        {"vq_beta", t.vq_beta},
                        {"weight_decay", t.weight_decay},
                        {"sample_every", double(t.sample_every)},
                        {"checkpoint_every", double(t.checkpoint_every)},
                        {"threads", double(t.threads)}})
    non_negative(key, v);
  if (!(t.ema_decay >= 0 && t.ema_decay < 1))
    throw std::invalid_argument(
        fmt::format("training.ema_decay must be in [0, 1), found {}", t.ema_decay));
  for (auto [key, v] : {std::pair{"adam_beta1", t.adam_beta1}, {"adam_beta2", t.adam_beta2}})
    if (!(v >= 0 && v < 1))
      throw std::invalid_argument(fmt::format("training.{} must be in [0, 1), found {}", key, v));
  return t;
}

}  // namespace

json to_json(const AutoencoderRunConfig& c) {
  return {{"preset", c.preset},
          {"model", to_json(c.model)},
          {"data", to_json(c.data)},
          {"training", to_json(c.training)}};
}

AutoencoderRunConfig autoencoder_run_config_from_json(const json& j) {
  AutoencoderRunConfig c;
  JsonFields in(j, "config");
  in.read("preset", c.preset);
  c.model = autoencoder_config_from_json(in.section("model"));
  c.data = data_config_from_json(in.section("data"));
  c.training = training_from_json(in.section("training"));
  in.finish();
  check_data_config(c.data);
  return c;
}

std::vector<std::string> autoencoder_preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, text] : embedded_autoencoder_presets()) names.push_back(name);
  return names;
}

AutoencoderRunConfig resolve_autoencoder_run_config(const std::string& preset,
                                                    const std::vector<json>& patches) {
  std::string name = preset;
  for (const auto& p : patches)
    if (p.contains("preset") && p["preset"].is_string()) name = p["preset"].get<std::string>();
  const auto& presets = embedded_autoencoder_presets();
  auto it = presets.find(name);
  if (it == presets.end())
    throw std::invalid_argument(fmt::format("unknown autoencoder preset '{}' (allowed: {})", name,
                                            fmt::join(autoencoder_preset_names(), ", ")));
  AutoencoderRunConfig defaults;
  json resolved = to_json(defaults);
  resolved.merge_patch(
      parse_json_with_comments(it->second, "configs/autoencoders/" + name + ".json"));
  for (const auto& p : patches) resolved.merge_patch(p);
  resolved["preset"] = name;
  return autoencoder_run_config_from_json(resolved);
}

void set_downsample_factor(AutoencoderConfig& c, int64_t factor) {
  if (factor < 1 || factor > 128 || (factor & (factor - 1)) != 0)
    throw std::invalid_argument(fmt::format(
        "--downsample must be a power of two from 1 to 128 (each level halves the image), "
        "found {}",
        factor));
  size_t levels = 1;
  while ((int64_t(1) << (levels - 1)) < factor) ++levels;
  auto& w = c.block_out_channels;
  if (w.empty()) w = {64};
  while (w.size() < levels) w.push_back(w.back());
  w.resize(levels);
}

}  // namespace ddpm

// openai/improved-diffusion: improved_diffusion/script_util.py (model_and_diffusion_defaults,
// create_model, create_gaussian_diffusion), unet.py (UNetModel, ResBlock, AttentionBlock,
// QKVAttention, timestep_embedding), gaussian_diffusion.py (get_named_beta_schedule,
// _scale_timesteps, p_mean_variance, ddim_sample), respace.py (space_timesteps, SpacedDiffusion).
#include "runs/improved_diffusion_format.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>
#include <sstream>

#include "io/torch_pickle.h"
#include "runs/state_dict_mapping.h"

namespace ddpm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "improved-diffusion's UNetModel";

[[noreturn]] void fail(const std::string& origin, const std::string& what) {
  throw std::invalid_argument(origin + ": " + what);
}

/// script_util.model_and_diffusion_defaults().
const json& defaults() {
  static const json d{{"image_size", 64},
                      {"num_channels", 128},
                      {"num_res_blocks", 2},
                      {"num_heads", 4},
                      {"num_heads_upsample", -1},
                      {"attention_resolutions", "16,8"},
                      {"dropout", 0.0},
                      {"learn_sigma", false},
                      {"sigma_small", false},
                      {"class_cond", false},
                      {"diffusion_steps", 1000},
                      {"noise_schedule", "linear"},
                      {"timestep_respacing", ""},
                      {"use_kl", false},
                      {"predict_xstart", false},
                      {"rescale_timesteps", true},
                      {"rescale_learned_sigmas", true},
                      {"use_checkpoint", false},
                      {"use_scale_shift_norm", true}};
  return d;
}

/// scripts/image_train.py's other flags: training only, accepted and ignored.
const std::set<std::string>& training_only() {
  static const std::set<std::string> s{"data_dir",          "schedule_sampler",  "lr",
                                       "weight_decay",      "lr_anneal_steps",   "batch_size",
                                       "microbatch",        "ema_rate",          "log_interval",
                                       "save_interval",     "resume_checkpoint", "use_fp16",
                                       "fp16_scale_growth", "clip_denoised",     "num_samples",
                                       "use_ddim",          "model_path"};
  return s;
}

template <typename T>
T arg(const json& args, const std::string& origin, const std::string& key) {
  const json& v = args.contains(key) ? args[key] : defaults().at(key);
  if constexpr (std::is_same_v<T, bool>) {
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_string()) {  // str2bool's spellings, as the flags arrive from argparse
      const auto s = v.get<std::string>();
      for (const char* yes : {"yes", "true", "t", "y", "1", "True"})
        if (s == yes) return true;
      for (const char* no : {"no", "false", "f", "n", "0", "False"})
        if (s == no) return false;
    }
    fail(origin, fmt::format("{}: expected true or false, found {}", key, v.dump()));
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer())
      fail(origin, fmt::format("{}: expected an integer, found {}", key, v.dump()));
    return v.get<T>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) fail(origin, fmt::format("{}: expected a number, found {}", key, v.dump()));
    return v.get<T>();
  } else {
    if (!v.is_string()) fail(origin, fmt::format("{}: expected a string, found {}", key, v.dump()));
    return v.get<std::string>();
  }
}

}  // namespace

bool is_improved_diffusion_folder(const fs::path& dir) {
  if (!fs::is_regular_file(dir / "args.json")) return false;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".pt") return true;
  return false;
}

fs::path improved_diffusion_weights_file(const fs::path& dir, WeightsKind weights) {
  std::vector<fs::path> all, ema, raw;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || e.path().extension() != ".pt" || name.rfind("opt", 0) == 0)
      continue;
    all.push_back(e.path());
    (name.rfind("ema", 0) == 0 ? ema : raw).push_back(e.path());
  }
  if (all.size() == 1) return all.front();
  const auto& pick = weights == WeightsKind::ema ? ema : raw;
  if (pick.size() == 1) return pick.front();
  std::vector<std::string> names;
  for (const auto& p : all) names.push_back(p.filename().string());
  std::sort(names.begin(), names.end());
  throw std::runtime_error(fmt::format(
      "{}: {} state dicts ({}); keep one model*.pt and/or one ema_*.pt beside args.json",
      dir.string(), all.empty() ? "no" : "several", fmt::join(names, ", ")));
}

int64_t improved_diffusion_num_heads(const json& args) {
  return args.contains("num_heads") && args["num_heads"].is_number_integer()
             ? args["num_heads"].get<int64_t>()
             : defaults().at("num_heads").get<int64_t>();
}

RunConfig improved_diffusion_config(const json& args, const std::string& origin) {
  if (!args.is_object())
    fail(origin, "expected a JSON object of improved-diffusion's training flags, found " +
                     std::string(args.type_name()));
  for (const auto& [key, value] : args.items())
    if (!defaults().contains(key) && !training_only().count(key)) {
      std::vector<std::string> allowed;
      for (const auto& [k, v] : defaults().items()) allowed.push_back(k);
      fail(origin, fmt::format("unknown key '{}' (allowed: the flags of "
                               "model_and_diffusion_defaults: {})",
                               key, fmt::join(allowed, ", ")));
    }
  if (arg<bool>(args, origin, "class_cond"))
    fail(origin,
         "class_cond = true: class-conditional improved-diffusion models (label_emb) are "
         "not supported yet");
  if (!arg<std::string>(args, origin, "timestep_respacing").empty())
    fail(origin, "timestep_respacing = '" + arg<std::string>(args, origin, "timestep_respacing") +
                     "': a model trained on a respaced process is not supported (allowed: \"\")");

  const int64_t image_size = arg<int64_t>(args, origin, "image_size");
  std::vector<int64_t> mult;  // create_model
  if (image_size == 256)
    mult = {1, 1, 2, 2, 4, 4};
  else if (image_size == 64)
    mult = {1, 2, 3, 4};
  else if (image_size == 32)
    mult = {1, 2, 2, 2};
  else
    fail(origin, fmt::format("image_size = {} is not one create_model builds (allowed: 32, 64, "
                             "256)",
                             image_size));
  const int64_t ch = arg<int64_t>(args, origin, "num_channels");
  const int64_t heads = arg<int64_t>(args, origin, "num_heads");
  const int64_t heads_up = arg<int64_t>(args, origin, "num_heads_upsample");
  if (heads < 1) fail(origin, fmt::format("num_heads = {} must be >= 1", heads));
  if (heads_up != -1 && heads_up != heads)
    fail(origin, fmt::format("num_heads_upsample = {} differs from num_heads = {}: not supported "
                             "(allowed: -1 or {})",
                             heads_up, heads, heads));
  const bool learn_sigma = arg<bool>(args, origin, "learn_sigma");

  // attention_resolutions "16,8" → downsample rates ds = image_size // res.
  std::set<int64_t> attention_ds;
  {
    const json& v = args.contains("attention_resolutions") ? args["attention_resolutions"]
                                                           : defaults().at("attention_resolutions");
    std::string text = v.is_number_integer() ? std::to_string(v.get<int64_t>())
                       : v.is_string()       ? v.get<std::string>()
                                             : "";
    if (text.empty())
      fail(origin,
           "attention_resolutions: expected a comma-separated string of resolutions, "
           "found " +
               v.dump());
    std::stringstream in(text);
    for (std::string part; std::getline(in, part, ',');) {
      int64_t res = 0;
      try {
        size_t used = 0;
        res = std::stoll(part, &used);
        if (used != part.size() || res < 1) throw std::invalid_argument(part);
      } catch (const std::exception&) {
        fail(origin, "attention_resolutions: '" + part + "' is not a positive integer");
      }
      attention_ds.insert(image_size / res);
    }
  }

  RunConfig c;
  c.preset = "improved-diffusion";
  UNetConfig& u = c.model;
  u.sample_size = image_size;
  u.in_channels = 3;
  u.out_channels = learn_sigma ? 6 : 3;
  u.block_out_channels.clear();
  for (int64_t m : mult) u.block_out_channels.push_back(ch * m);
  u.layers_per_block = arg<int64_t>(args, origin, "num_res_blocks");
  u.down_block_types.clear();
  u.up_block_types.clear();
  std::set<int64_t> attention_widths{u.block_out_channels.back()};  // the middle block's
  for (size_t l = 0; l < mult.size(); ++l) {
    const bool attn = attention_ds.count(int64_t(1) << l) > 0;
    u.down_block_types.push_back(attn ? DownBlockType::attention : DownBlockType::plain);
    if (attn) attention_widths.insert(u.block_out_channels[l]);
  }
  for (size_t l = mult.size(); l-- > 0;)
    u.up_block_types.push_back(attention_ds.count(int64_t(1) << l) ? UpBlockType::attention
                                                                   : UpBlockType::plain);
  for (int64_t ds : attention_ds) {
    bool reached = false;
    for (size_t l = 0; l < mult.size(); ++l) reached |= ds == (int64_t(1) << l);
    if (!reached)
      fail(origin, fmt::format("attention_resolutions names resolution {} (downsample rate {}), "
                               "which no level of the {}-pixel network has",
                               image_size / std::max<int64_t>(ds, 1), ds, image_size));
  }
  // One head width for every attention (UNet2DModel's attention_head_dim).
  std::set<int64_t> head_widths;
  for (int64_t w : attention_widths) {
    if (w % heads != 0)
      fail(origin, fmt::format("num_heads = {} does not divide the attention width {}", heads, w));
    head_widths.insert(w / heads);
  }
  if (head_widths.size() != 1)
    fail(origin,
         fmt::format("num_heads = {} over attention widths {} gives head widths {}; "
                     "attention with one head width per level is not supported yet (this "
                     "UNet, as diffusers' UNet2DModel, has one attention_head_dim)",
                     heads, fmt::join(attention_widths, ", "), fmt::join(head_widths, ", ")));
  u.attention_head_dim = heads == 1 ? 0 : *head_widths.begin();
  u.add_attention = true;
  u.norm_num_groups = 32;  // normalization(): GroupNorm32(32, C), eps 1e-5
  u.norm_eps = 1e-5;
  u.flip_sin_to_cos = true;  // timestep_embedding: [cos, sin], log(max_period)/half
  u.freq_shift = 0;
  u.downsample_padding = 1;  // Downsample: conv 3×3, stride 2, padding 1
  u.resnet_time_scale_shift = arg<bool>(args, origin, "use_scale_shift_norm")
                                  ? ResnetTimeScaleShift::scale_shift
                                  : ResnetTimeScaleShift::additive;
  u.attn_norm_num_groups = 32;  // the middle AttentionBlock has its own normalization()
  u.dropout = arg<double>(args, origin, "dropout");
  const int64_t T = arg<int64_t>(args, origin, "diffusion_steps");
  if (T < 1 || T > kMaxTrainTimesteps)
    fail(origin,
         fmt::format("diffusion_steps = {} is out of range (1 to {})", T, kMaxTrainTimesteps));
  // gaussian_diffusion.py _scale_timesteps: t · 1000/T.
  u.timestep_scale = arg<bool>(args, origin, "rescale_timesteps") ? 1000.0 / double(T) : 1.0;
  try {
    validate(u);
  } catch (const std::invalid_argument& e) {
    fail(origin, std::string("the network these flags describe cannot be built: ") + e.what());
  }

  // get_named_beta_schedule: linear (DDPM's, scaled by 1000/T) or cosine (eq. 17, β ≤ 0.999).
  c.schedule.num_train_timesteps = T;
  const auto schedule = arg<std::string>(args, origin, "noise_schedule");
  if (schedule == "linear")
    c.schedule.beta_schedule = BetaSchedule::linear;
  else if (schedule == "cosine")
    c.schedule.beta_schedule = BetaSchedule::squaredcos_cap_v2;
  else
    fail(origin, "noise_schedule = '" + schedule + "' (allowed: linear, cosine)");
  c.prediction_type =
      arg<bool>(args, origin, "predict_xstart") ? PredictionType::sample : PredictionType::epsilon;
  c.data.image_size = image_size;
  c.data.channels = 3;
  c.data.normalization = Normalization::minus_one_one;

  // ddim_sample_loop over timestep_respacing "ddimN": strided steps, clip_denoised=True with ε
  // re-derived from the clipped x̂_0, the next respaced step after each.
  SamplerConfig& s = c.sampling.sampler;
  s = default_sampler_config(SamplerKind::ddim);
  s.timestep_spacing = TimestepSpacing::strided;
  s.clip_sample = true;
  s.use_clipped_model_output = true;
  s.ddim_prev_timestep = PrevTimestep::next_in_sequence;
  s.variance_type = learn_sigma                              ? VarianceType::learned_range
                    : arg<bool>(args, origin, "sigma_small") ? VarianceType::fixed_small
                                                             : VarianceType::fixed_large;
  return c;
}

TensorMap improved_diffusion_weights(const fs::path& file, const RunConfig& config,
                                     int64_t num_heads, const TensorMap& expected) {
  const std::string where = file.string();
  const c10::IValue value = read_torch_pickle(file);
  const TensorMap original = tensor_dict(value, where);
  if (original.count("label_emb.weight"))
    throw std::runtime_error(where +
                             ": holds label_emb.weight, a class-conditional model (not supported "
                             "yet), while args.json says class_cond = false");

  const UNetConfig& u = config.model;
  std::vector<ModuleMapping> map{{"time_embed.0", "time_embedding.linear_1"},
                                 {"time_embed.2", "time_embedding.linear_2"},
                                 {"input_blocks.0.0", "conv_in"},
                                 {"out.0", "conv_norm_out"},
                                 {"out.2", "conv_out"}};
  auto resblock = [&](const std::string& from, const std::string& to) {
    map.push_back({from + ".in_layers.0", to + ".norm1"});
    map.push_back({from + ".in_layers.2", to + ".conv1"});
    map.push_back({from + ".emb_layers.1", to + ".time_emb_proj"});
    map.push_back({from + ".out_layers.0", to + ".norm2"});
    map.push_back({from + ".out_layers.3", to + ".conv2"});
    if (expected.count(to + ".conv_shortcut.weight"))
      map.push_back({from + ".skip_connection", to + ".conv_shortcut"});
  };
  auto attention = [&](const std::string& from, const std::string& to) {
    map.push_back({from + ".norm", to + ".group_norm"});
    map.push_back({from + ".qkv", to, TensorTransform::qkv_split, num_heads});
    map.push_back({from + ".proj_out", to + ".to_out.0", TensorTransform::conv1x1_to_linear});
  };
  // UNetModel.__init__: input_blocks = [conv] + per level num_res_blocks × (ResBlock[, attn])
  // + a Downsample between levels; output_blocks per level (lowest first) num_res_blocks + 1 ×
  // (ResBlock[, attn][, Upsample after the last of every level but the top]).
  const int64_t L = num_levels(u);
  int64_t k = 1;
  for (int64_t l = 0; l < L; ++l) {
    const bool attn = u.down_block_types[size_t(l)] == DownBlockType::attention;
    for (int64_t j = 0; j < u.layers_per_block; ++j, ++k) {
      resblock(fmt::format("input_blocks.{}.0", k), fmt::format("down_blocks.{}.resnets.{}", l, j));
      if (attn)
        attention(fmt::format("input_blocks.{}.1", k),
                  fmt::format("down_blocks.{}.attentions.{}", l, j));
    }
    if (l != L - 1)
      map.push_back({fmt::format("input_blocks.{}.0.op", k++),
                     fmt::format("down_blocks.{}.downsamplers.0.conv", l)});
  }
  resblock("middle_block.0", "mid_block.resnets.0");
  attention("middle_block.1", "mid_block.attentions.0");
  resblock("middle_block.2", "mid_block.resnets.1");
  k = 0;
  for (int64_t b = 0; b < L; ++b) {  // up_blocks.b is level L − 1 − b
    const bool attn = u.up_block_types[size_t(b)] == UpBlockType::attention;
    for (int64_t i = 0; i <= u.layers_per_block; ++i, ++k) {
      resblock(fmt::format("output_blocks.{}.0", k), fmt::format("up_blocks.{}.resnets.{}", b, i));
      if (attn)
        attention(fmt::format("output_blocks.{}.1", k),
                  fmt::format("up_blocks.{}.attentions.{}", b, i));
      if (b != L - 1 && i == u.layers_per_block)
        map.push_back({fmt::format("output_blocks.{}.{}.conv", k, attn ? 2 : 1),
                       fmt::format("up_blocks.{}.upsamplers.0.conv", b)});
    }
  }
  return convert_state_dict(original, map, expected, where, kFormat);
}

}  // namespace ddpm

// diffusers 0.21.4 UNet2DModel config.json keys and defaults: src/diffusers/models/unet_2d.py
// (UNet2DModel.__init__); the block names: unet_2d_blocks.py get_down_block / get_up_block; the
// legacy attention names: modeling_utils.py ModelMixin._convert_deprecated_attention_blocks.
#include "runs/diffusers_format.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <regex>
#include <stdexcept>

#include "io/json_fields.h"
#include "runs/diffusers_keys.h"

namespace ddpm {

namespace {

using nlohmann::json;

// UNet2DModel.__init__'s defaults (0.21.4) as a diffusers-layout UNetConfig; sample_size has
// none (diffusers' None) and is required separately.
UNetConfig diffusers_defaults() {
  UNetConfig c;
  c.layout = UNetLayout::diffusers;
  c.in_channels = 3;
  c.out_channels = 3;
  c.center_input_sample = false;
  c.freq_shift = 0;
  c.flip_sin_to_cos = true;
  c.down_block_types = {DownBlockType::plain, DownBlockType::attention, DownBlockType::attention,
                        DownBlockType::attention};
  c.up_block_types = {UpBlockType::attention, UpBlockType::attention, UpBlockType::attention,
                      UpBlockType::plain};
  c.block_out_channels = {224, 448, 672, 896};
  c.layers_per_block = 2;
  c.mid_block_scale_factor = 1;
  c.downsample_padding = 1;
  c.dropout = 0.0;
  c.attention_head_dim = 8;
  c.norm = NormType::group;
  c.norm_num_groups = 32;
  c.norm_eps = 1e-5;
  c.resnet_time_scale_shift = ResnetTimeScaleShift::additive;
  c.add_attention = true;
  // What UNet2DModel always is, in UNetConfig's terms.
  c.conditioning = Conditioning::timestep;
  c.injection = Injection::every_block;
  c.upsampling = Upsampling::nearest;
  c.downsampling = Downsampling::conv;
  c.conv_in_kernel = 3;
  c.conv_out_kernel = 3;
  c.norm_out = true;
  c.zero_init_out = false;
  return c;
}

template <typename E>
std::vector<E> read_block_types(const json& config, const std::string& origin,
                                const std::string& key, std::vector<E> fallback) {
  auto it = config.find(key);
  if (it == config.end()) return fallback;
  require(it->is_array(), origin,
          fmt::format("{} must be a list of block names ({}), found {}", key, allowed_values<E>(),
                      it->dump()));
  std::vector<E> out;
  for (size_t i = 0; i < it->size(); ++i) {
    const auto& name = (*it)[i];
    require(name.is_string(), origin,
            fmt::format("{}[{}] must be a block name ({}), found {}", key, i, allowed_values<E>(),
                        name.dump()));
    try {
      out.push_back(parse_enum<E>(name.get<std::string>()));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("{}: {}[{}]: {}", origin, key, i, e.what()));
    }
  }
  return out;
}

int64_t read_sample_size(const json& config, const std::string& origin) {
  auto it = config.find("sample_size");
  const std::string need =
      "this project needs the image size to draw samples; set sample_size in config.json";
  require(it != config.end() && !it->is_null(), origin,
          "sample_size is " + std::string(it == config.end() ? "absent" : "null") + ": " + need);
  if (it->is_number_integer()) return it->get<int64_t>();
  // UNet2DModel also takes (height, width); this project draws square images.
  require(it->is_array() && it->size() == 2 && (*it)[0].is_number_integer() &&
              (*it)[1].is_number_integer(),
          origin, "sample_size must be an integer or [height, width], found " + it->dump());
  require((*it)[0] == (*it)[1], origin,
          "sample_size " + it->dump() + " is not square; only square images are supported");
  return (*it)[0].get<int64_t>();
}

}  // namespace

UNetConfig unet_config_from_diffusers(const json& config, const std::string& origin) {
  require(
      config.is_object(), origin,
      "expected a UNet2DModel config (a JSON object), found " + std::string(config.type_name()));
  if (auto it = config.find("_class_name"); it != config.end())
    require(*it == "UNet2DModel", origin,
            "_class_name " + it->dump() + " is not supported (allowed: \"UNet2DModel\")");

  UNetConfig c = diffusers_defaults();
  JsonFields in(config, origin);
  for (const auto& item : config.items())
    if (!item.key().empty() && item.key()[0] == '_') in.ignore(item.key());  // bookkeeping

  c.sample_size = read_sample_size(config, origin);
  in.ignore("sample_size");
  in.read("in_channels", c.in_channels);
  in.read("out_channels", c.out_channels);
  in.read("center_input_sample", c.center_input_sample);
  in.read("freq_shift", c.freq_shift);
  in.read("flip_sin_to_cos", c.flip_sin_to_cos);
  c.down_block_types = read_block_types(config, origin, "down_block_types", c.down_block_types);
  c.up_block_types = read_block_types(config, origin, "up_block_types", c.up_block_types);
  in.ignore("down_block_types");
  in.ignore("up_block_types");
  in.read("block_out_channels", c.block_out_channels);
  in.read("layers_per_block", c.layers_per_block);
  in.read("mid_block_scale_factor", c.mid_block_scale_factor);
  in.read("downsample_padding", c.downsample_padding);
  in.read("dropout", c.dropout);
  std::optional<int64_t> head_dim = c.attention_head_dim;
  in.read("attention_head_dim", head_dim);  // null: one head per attention (diffusers: channels)
  c.attention_head_dim = head_dim.value_or(0);
  if (auto it = config.find("norm_num_groups"); it != config.end())
    require(!it->is_null(), origin,
            "norm_num_groups is null, which diffusers' ResnetBlock2D cannot build (GroupNorm "
            "needs a group count)");
  in.read("norm_num_groups", c.norm_num_groups);
  in.read("norm_eps", c.norm_eps);
  in.read_enum("resnet_time_scale_shift", c.resnet_time_scale_shift);
  in.read("add_attention", c.add_attention);

  // Keys with one implemented value (UNet2DModel's default, or an equivalent spelling).
  require_choice(config, origin, "act_fn", {"silu", "swish"},
                 "every activation here is SiLU (diffusers get_activation: swish = silu)");
  require_choice(config, origin, "time_embedding_type", {"positional"},
                 "the timestep enters through the sinusoidal positional embedding only");
  // Class conditioning (UNet2DModel.__init__): class_embed_type null + num_class_embeds → an
  // nn.Embedding; "timestep" → a TimestepEmbedding over the label's sinusoidal projection.
  require_choice(config, origin, "class_embed_type", {nullptr, "timestep"},
                 "labels enter through an nn.Embedding (null) or a TimestepEmbedding (timestep)");
  if (auto it = config.find("num_class_embeds"); it != config.end() && !it->is_null()) {
    require(it->is_number_integer() && it->get<int64_t>() >= 1, origin,
            "num_class_embeds must be null or an integer >= 1, found " + it->dump());
    c.num_class_embeds = it->get<int64_t>();
  }
  if (auto it = config.find("class_embed_type"); it != config.end() && *it == "timestep") {
    require(c.num_class_embeds > 0, origin,
            "class_embed_type \"timestep\" without num_class_embeds: this project needs the "
            "number of classes to check labels; set num_class_embeds");
    c.class_embed_type = ClassEmbedType::timestep;
  }
  require_choice(config, origin, "downsample_type", {"conv"},
                 "down blocks halve the resolution with a strided 3x3 conv (Downsample2D)");
  require_choice(config, origin, "upsample_type", {"conv"},
                 "up blocks double the resolution with nearest + 3x3 conv (Upsample2D)");
  for (const char* key : {"act_fn", "time_embedding_type", "class_embed_type", "num_class_embeds",
                          "downsample_type", "upsample_type"})
    in.ignore(key);

  // Keys that later diffusers releases write; accepted where they mean 0.21.4's network.
  require_choice(config, origin, "mid_block_type", {"UNetMidBlock2D"},
                 "the mid block is resnet, attention, resnet (UNetMidBlock2D)");
  in.ignore("mid_block_type");
  in.ignore("num_train_timesteps");  // only read by time_embedding_type "learned"
  if (auto it = config.find("time_embedding_dim"); it != config.end() && !it->is_null())
    require(*it == time_embed_dim(c), origin,
            fmt::format("time_embedding_dim = {} is not supported (allowed: null or {} = 4 x "
                        "block_out_channels[0])",
                        it->dump(), time_embed_dim(c)));
  in.ignore("time_embedding_dim");
  // UNetMidBlock2D(attn_groups): null means norm_num_groups, or no norm with scale_shift
  // (diffusers ≥ 0.22; improved-diffusion conversions set it to keep the mid attention's norm).
  std::optional<int64_t> attn_groups;
  in.read("attn_norm_num_groups", attn_groups);
  c.attn_norm_num_groups = attn_groups.value_or(0);
  require(c.attn_norm_num_groups >= 0, origin,
          fmt::format("attn_norm_num_groups = {} must be null or a positive group count",
                      c.attn_norm_num_groups));
  in.finish();

  try {
    validate(c);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(origin + ": " + e.what());
  }
  return c;
}

void check_diffusers_expressible(const UNetConfig& c) {
  std::vector<std::string> reasons;
  if (c.layout != UNetLayout::diffusers)
    reasons.push_back("layout " + to_string(c.layout) +
                      " (UNet2DModel has the diffusers layout only: L down blocks, a resnet-"
                      "attention-resnet mid block, L up blocks)");
  if (c.norm != NormType::group)
    reasons.push_back("norm " + to_string(c.norm) + " (UNet2DModel normalises with GroupNorm)");
  if (c.conditioning != Conditioning::timestep)
    reasons.push_back("conditioning " + to_string(c.conditioning) +
                      " (UNet2DModel embeds the timestep t)");
  if (c.injection != Injection::every_block)
    reasons.push_back("injection " + to_string(c.injection) +
                      " (UNet2DModel adds the time embedding in every resnet)");
  if (c.upsampling != Upsampling::nearest)
    reasons.push_back("upsampling " + to_string(c.upsampling) +
                      " (UNet2DModel up-samples with nearest + 3x3 conv)");
  if (c.downsampling != Downsampling::conv)
    reasons.push_back("downsampling " + to_string(c.downsampling) +
                      " (UNet2DModel down-samples with a strided 3x3 conv)");
  if (c.conv_in_kernel != 3 || c.conv_out_kernel != 3)
    reasons.push_back(fmt::format("conv_in_kernel {} / conv_out_kernel {} (UNet2DModel's are 3x3)",
                                  c.conv_in_kernel, c.conv_out_kernel));
  if (!c.norm_out)
    reasons.push_back("norm_out false (UNet2DModel has GroupNorm + SiLU before conv_out)");
  if (c.timestep_scale != 1.0)
    reasons.push_back(fmt::format(
        "timestep_scale {} (UNet2DModel embeds the scheduler's t as it is; improved-diffusion's "
        "rescale_timesteps with T != 1000 has no equivalent)",
        c.timestep_scale));
  if (!reasons.empty())
    throw std::invalid_argument(fmt::format("diffusers UNet2DModel cannot express this model: {}",
                                            fmt::join(reasons, "; ")));
}

json unet_config_to_diffusers(const UNetConfig& c) {
  check_diffusers_expressible(c);
  validate(c);
  std::vector<std::string> down, up;
  for (auto t : c.down_block_types) down.push_back(to_string(t));
  for (auto t : c.up_block_types) up.push_back(to_string(t));
  // nlohmann::json sorts keys, as diffusers' save_config (json.dumps(sort_keys=True)) does.
  json j{{"_class_name", "UNet2DModel"},
         {"_diffusers_version", kDiffusersVersion},
         {"act_fn", "silu"},
         {"add_attention", c.add_attention},
         {"attention_head_dim", nullptr},
         {"block_out_channels", c.block_out_channels},
         {"center_input_sample", c.center_input_sample},
         {"class_embed_type", nullptr},
         {"down_block_types", down},
         {"downsample_padding", c.downsample_padding},
         {"downsample_type", "conv"},
         {"dropout", c.dropout},
         {"flip_sin_to_cos", c.flip_sin_to_cos},
         {"freq_shift", c.freq_shift},
         {"in_channels", c.in_channels},
         {"layers_per_block", c.layers_per_block},
         {"mid_block_scale_factor", c.mid_block_scale_factor},
         {"norm_eps", c.norm_eps},
         {"norm_num_groups", c.norm_num_groups},
         {"num_class_embeds", nullptr},
         {"out_channels", c.out_channels},
         {"resnet_time_scale_shift", to_string(c.resnet_time_scale_shift)},
         {"sample_size", c.sample_size},
         {"time_embedding_type", "positional"},
         {"up_block_types", up},
         {"upsample_type", "conv"}};
  if (c.attention_head_dim > 0) j["attention_head_dim"] = c.attention_head_dim;
  if (c.num_class_embeds > 0) {
    j["num_class_embeds"] = c.num_class_embeds;
    if (c.class_embed_type == ClassEmbedType::timestep) j["class_embed_type"] = "timestep";
  }
  // A diffusers ≥ 0.22 key; written only when it changes the network (0.21.4 ignores it).
  if (c.attn_norm_num_groups > 0) j["attn_norm_num_groups"] = c.attn_norm_num_groups;
  // diffusers types freq_shift as int; keep whole values integral so the file reads the same.
  if (c.freq_shift == double(int64_t(c.freq_shift))) j["freq_shift"] = int64_t(c.freq_shift);
  return j;
}

TensorMap convert_legacy_attention_keys(TensorMap tensors) {
  static const std::regex legacy(
      R"(^(.*\battentions\.\d+)\.(query|key|value|proj_attn)\.(weight|bias)$)");
  static const std::map<std::string, std::string> rename{
      {"query", "to_q"}, {"key", "to_k"}, {"value", "to_v"}, {"proj_attn", "to_out.0"}};
  TensorMap out;
  std::vector<std::pair<std::string, std::string>> renamed;  // (old, new)
  for (auto& [name, tensor] : tensors) {
    std::smatch m;
    std::string target = name;
    if (std::regex_match(name, m, legacy))
      target = m[1].str() + "." + rename.at(m[2].str()) + "." + m[3].str();
    if (out.count(target))
      throw std::invalid_argument("tensor '" + target + "' is present under both the legacy (" +
                                  "query/key/value/proj_attn) and the current attention spelling");
    out.emplace(target, std::move(tensor));
  }
  return out;
}

}  // namespace ddpm

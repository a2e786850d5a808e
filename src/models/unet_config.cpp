#include "models/unet_config.h"

#include <fmt/format.h>

#include <fmt/ranges.h>
#include <cmath>

#include <stdexcept>
#include <tuple>

#include "io/json_fields.h"

namespace ddpm {

template <>
const EnumTable<UNetLayout>& enum_table<UNetLayout>() {
  static const EnumTable<UNetLayout> table{
      "UNet layout", {{UNetLayout::diffusers, "diffusers"}, {UNetLayout::keras, "keras"}}};
  return table;
}

template <>
const EnumTable<NormType>& enum_table<NormType>() {
  static const EnumTable<NormType> table{"norm",
                                         {{NormType::group, "group"},
                                          {NormType::batch, "batch"},
                                          {NormType::batch_affine, "batch-affine"}}};
  return table;
}

template <>
const EnumTable<Conditioning>& enum_table<Conditioning>() {
  static const EnumTable<Conditioning> table{
      "conditioning",
      {{Conditioning::timestep, "timestep"}, {Conditioning::noise_variance, "noise-variance"}}};
  return table;
}

template <>
const EnumTable<Injection>& enum_table<Injection>() {
  static const EnumTable<Injection> table{
      "injection",
      {{Injection::input_only, "input-only"}, {Injection::every_block, "every-block"}}};
  return table;
}

template <>
const EnumTable<Upsampling>& enum_table<Upsampling>() {
  static const EnumTable<Upsampling> table{
      "upsampling", {{Upsampling::nearest, "nearest"}, {Upsampling::bilinear, "bilinear"}}};
  return table;
}

template <>
const EnumTable<Downsampling>& enum_table<Downsampling>() {
  static const EnumTable<Downsampling> table{
      "downsampling", {{Downsampling::conv, "conv"}, {Downsampling::avg_pool, "avg-pool"}}};
  return table;
}

template <>
const EnumTable<ClassEmbedType>& enum_table<ClassEmbedType>() {
  static const EnumTable<ClassEmbedType> table{
      "class embedding type",
      {{ClassEmbedType::embedding, "embedding"}, {ClassEmbedType::timestep, "timestep"}}};
  return table;
}

template <>
const EnumTable<ResnetTimeScaleShift>& enum_table<ResnetTimeScaleShift>() {
  static const EnumTable<ResnetTimeScaleShift> table{
      "resnet time scale shift",
      {{ResnetTimeScaleShift::additive, "default"},
       {ResnetTimeScaleShift::scale_shift, "scale_shift"}}};
  return table;
}

template <>
const EnumTable<DownBlockType>& enum_table<DownBlockType>() {
  static const EnumTable<DownBlockType> table{
      "down block type",
      {{DownBlockType::plain, "DownBlock2D"}, {DownBlockType::attention, "AttnDownBlock2D"}}};
  return table;
}

template <>
const EnumTable<UpBlockType>& enum_table<UpBlockType>() {
  static const EnumTable<UpBlockType> table{
      "up block type",
      {{UpBlockType::plain, "UpBlock2D"}, {UpBlockType::attention, "AttnUpBlock2D"}}};
  return table;
}

namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument("model config: " + message);
}

template <typename E>
std::vector<std::string> enum_strings(const std::vector<E>& values) {
  std::vector<std::string> out;
  for (E v : values) out.push_back(to_string(v));
  return out;
}

// A list of enum strings; the key keeps its default when absent.
template <typename E>
void read_enum_list(JsonFields& in, const std::string& context, const std::string& key,
                    std::vector<E>& field) {
  std::vector<std::string> names = enum_strings(field);
  in.read(key, names);
  std::vector<E> values;
  for (size_t i = 0; i < names.size(); ++i) {
    try {
      values.push_back(parse_enum<E>(names[i]));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("{}.{}[{}]: {}", context, key, i, e.what()));
    }
  }
  field = values;
}

}  // namespace

int64_t conditioning_embedding_dim(const UNetConfig& c) {
  return c.injection == Injection::input_only ? c.embedding_dim : c.block_out_channels.at(0);
}

void validate(const UNetConfig& c) {
  const int64_t L = num_levels(c);
  const bool keras = c.layout == UNetLayout::keras;
  require(L >= 1, "block_out_channels must list at least one level");
  require(L <= kMaxLevels, fmt::format("block_out_channels lists {} levels, more than the {} "
                                       "allowed (kMaxLevels)",
                                       L, kMaxLevels));
  require(!keras || L >= 2, fmt::format("the keras layout needs at least 2 levels in "
                                        "block_out_channels (the last is the mid block), got {}",
                                        L));
  for (int64_t ch : c.block_out_channels)
    require(ch >= 1 && ch <= kMaxChannels,
            fmt::format("block_out_channels must be in [1, {}] (kMaxChannels), got [{}]",
                        kMaxChannels, fmt::join(c.block_out_channels, ", ")));
  require(c.sample_size >= 1 && c.sample_size <= kMaxSampleSize,
          fmt::format("sample_size must be in [1, {}] (kMaxSampleSize), got {}", kMaxSampleSize,
                      c.sample_size));
  require(c.in_channels >= 1 && c.out_channels >= 1 && c.in_channels <= kMaxChannels &&
              c.out_channels <= kMaxChannels,
          fmt::format("in_channels and out_channels must be in [1, {}] (kMaxChannels), got {} "
                      "and {}",
                      kMaxChannels, c.in_channels, c.out_channels));
  require(c.layers_per_block >= 1 && c.layers_per_block <= kMaxLayersPerBlock,
          fmt::format("layers_per_block must be in [1, {}] (kMaxLayersPerBlock), got {}",
                      kMaxLayersPerBlock, c.layers_per_block));

  const int64_t blocks = keras ? L - 1 : L;
  const std::string per = keras ? "one per level but the last (keras layout)"
                                : "one per level of block_out_channels (diffusers layout)";
  require(
      int64_t(c.down_block_types.size()) == blocks,
      fmt::format("down_block_types needs {} entries, {}; got {} [{}]", blocks, per,
                  c.down_block_types.size(), fmt::join(enum_strings(c.down_block_types), ", ")));
  require(int64_t(c.up_block_types.size()) == blocks,
          fmt::format("up_block_types needs {} entries, {}; got {} [{}]", blocks, per,
                      c.up_block_types.size(), fmt::join(enum_strings(c.up_block_types), ", ")));

  const int64_t factor = int64_t(1) << (L - 1);
  require(c.sample_size % factor == 0,
          fmt::format("sample_size {} must be divisible by 2^(levels − 1) = {} ({} levels halve "
                      "the resolution {} times)",
                      c.sample_size, factor, L, L - 1));

  require(c.norm_eps > 0, fmt::format("norm_eps must be > 0, got {}", c.norm_eps));
  require(c.batch_norm_momentum > 0 && c.batch_norm_momentum <= 1,
          fmt::format("batch_norm_momentum must be in (0, 1], got {}", c.batch_norm_momentum));
  const bool input_only = c.injection == Injection::input_only;
  if (c.norm == NormType::group) {
    const int64_t g = c.norm_num_groups;
    require(g >= 1, fmt::format("norm_num_groups must be >= 1, got {}", g));
    for (int64_t ch : c.block_out_channels)
      require(ch % g == 0, fmt::format("block_out_channels [{}]: {} channels are not divisible "
                                       "by norm_num_groups {}",
                                       fmt::join(c.block_out_channels, ", "), ch, g));
    require(!input_only || c.embedding_dim % g == 0,
            fmt::format("embedding_dim {} (concatenated after conv_in, then normed) is not "
                        "divisible by norm_num_groups {}",
                        c.embedding_dim, g));
  }

  require(
      c.attention_head_dim >= 0,
      fmt::format("attention_head_dim must be >= 0 (0 = one head), got {}", c.attention_head_dim));
  if (c.attention_head_dim > 0) {
    auto check_heads = [&](int64_t channels, const std::string& where) {
      require(channels % c.attention_head_dim == 0,
              fmt::format("{} has {} channels, not divisible by attention_head_dim {}", where,
                          channels, c.attention_head_dim));
    };
    for (int64_t i = 0; i < blocks; ++i) {
      if (c.down_block_types[i] == DownBlockType::attention)
        check_heads(c.block_out_channels[i], fmt::format("down block {} (AttnDownBlock2D)", i));
      if (c.up_block_types[i] == UpBlockType::attention)
        check_heads(c.block_out_channels[blocks - 1 - i],
                    fmt::format("up block {} (AttnUpBlock2D)", i));
    }
    if (c.add_attention) check_heads(c.block_out_channels.back(), "the mid block attention");
  }

  require(c.conv_in_kernel == 1 || c.conv_in_kernel == 3,
          fmt::format("conv_in_kernel must be 1 or 3, got {}", c.conv_in_kernel));
  require(c.conv_out_kernel == 1 || c.conv_out_kernel == 3,
          fmt::format("conv_out_kernel must be 1 or 3, got {}", c.conv_out_kernel));
  require(c.dropout >= 0 && c.dropout < 1,
          fmt::format("dropout must be in [0, 1), got {}", c.dropout));
  require(c.downsample_padding == 0 || c.downsample_padding == 1,
          fmt::format("downsample_padding must be 0 (pad right/bottom) or 1, got {}",
                      c.downsample_padding));
  require(c.mid_block_scale_factor > 0,
          fmt::format("mid_block_scale_factor must be > 0, got {}", c.mid_block_scale_factor));
  require(
      c.attn_norm_num_groups >= 0 && (c.attn_norm_num_groups == 0 ||
                                      (c.norm == NormType::group &&
                                       c.block_out_channels.back() % c.attn_norm_num_groups == 0)),
      fmt::format("attn_norm_num_groups must be 0 (diffusers' null) or a group count dividing "
                  "the mid block's {} channels with norm group, got {}",
                  c.block_out_channels.back(), c.attn_norm_num_groups));
  require(c.timestep_scale > 0 && std::isfinite(c.timestep_scale),
          fmt::format("timestep_scale must be a finite number > 0, got {}", c.timestep_scale));
  const int64_t emb = conditioning_embedding_dim(c);
  require(emb >= 2 && emb <= kMaxChannels && emb % 2 == 0,
          fmt::format("the conditioning embedding needs an even width in [2, {}], got {} ({})",
                      kMaxChannels, emb, input_only ? "embedding_dim" : "block_out_channels[0]"));
  require(c.conditioning != Conditioning::timestep || c.freq_shift < emb / 2,
          fmt::format("freq_shift {} must be below half the embedding width {}", c.freq_shift,
                      emb / 2));
  require(c.num_class_embeds >= 0 && c.num_class_embeds <= kMaxClassEmbeds,
          fmt::format("num_class_embeds must be in [0, {}] (0: unconditional), got {}",
                      kMaxClassEmbeds, c.num_class_embeds));
  require(c.num_class_embeds == 0 || c.class_embed_type == ClassEmbedType::embedding ||
              c.injection == Injection::every_block,
          "class_embed_type timestep needs injection every-block (it embeds the label with a "
          "time-embedding MLP; allowed with input-only injection: embedding)");
  if (c.resnet_time_scale_shift == ResnetTimeScaleShift::scale_shift) {
    require(c.layout == UNetLayout::diffusers,
            "resnet_time_scale_shift scale_shift needs the diffusers layout (it modulates norm2, "
            "which keras-layout blocks do not have; allowed there: default)");
    require(c.injection == Injection::every_block,
            "resnet_time_scale_shift scale_shift needs injection every-block (input-only "
            "injection has no per-block time embedding; allowed there: default)");
  }
}

nlohmann::json to_json(const UNetConfig& c) {
  return {{"layout", to_string(c.layout)},
          {"sample_size", c.sample_size},
          {"in_channels", c.in_channels},
          {"out_channels", c.out_channels},
          {"block_out_channels", c.block_out_channels},
          {"layers_per_block", c.layers_per_block},
          {"down_block_types", enum_strings(c.down_block_types)},
          {"up_block_types", enum_strings(c.up_block_types)},
          {"add_attention", c.add_attention},
          {"attention_head_dim", c.attention_head_dim},
          {"norm", to_string(c.norm)},
          {"norm_num_groups", c.norm_num_groups},
          {"norm_eps", c.norm_eps},
          {"batch_norm_momentum", c.batch_norm_momentum},
          {"conditioning", to_string(c.conditioning)},
          {"injection", to_string(c.injection)},
          {"upsampling", to_string(c.upsampling)},
          {"downsampling", to_string(c.downsampling)},
          {"dropout", c.dropout},
          {"conv_in_kernel", c.conv_in_kernel},
          {"conv_out_kernel", c.conv_out_kernel},
          {"norm_out", c.norm_out},
          {"zero_init_out", c.zero_init_out},
          {"embedding_dim", c.embedding_dim},
          {"flip_sin_to_cos", c.flip_sin_to_cos},
          {"freq_shift", c.freq_shift},
          {"downsample_padding", c.downsample_padding},
          {"mid_block_scale_factor", c.mid_block_scale_factor},
          {"resnet_time_scale_shift", to_string(c.resnet_time_scale_shift)},
          {"center_input_sample", c.center_input_sample},
          {"num_class_embeds", c.num_class_embeds},
          {"class_embed_type", to_string(c.class_embed_type)},
          {"attn_norm_num_groups", c.attn_norm_num_groups},
          {"timestep_scale", c.timestep_scale}};
}

UNetConfig unet_config_from_json(const nlohmann::json& json, const std::string& context) {
  UNetConfig c;
  JsonFields in(json, context);
  in.read_enum("layout", c.layout);
  in.read("sample_size", c.sample_size);
  in.read("in_channels", c.in_channels);
  in.read("out_channels", c.out_channels);
  in.read("block_out_channels", c.block_out_channels);
  in.read("layers_per_block", c.layers_per_block);
  read_enum_list(in, context, "down_block_types", c.down_block_types);
  read_enum_list(in, context, "up_block_types", c.up_block_types);
  in.read("add_attention", c.add_attention);
  std::optional<int64_t> head_dim = c.attention_head_dim;
  in.read("attention_head_dim", head_dim);  // diffusers writes null for "one head"
  c.attention_head_dim = head_dim.value_or(0);
  in.read_enum("norm", c.norm);
  in.read("norm_num_groups", c.norm_num_groups);
  in.read("norm_eps", c.norm_eps);
  in.read("batch_norm_momentum", c.batch_norm_momentum);
  in.read_enum("conditioning", c.conditioning);
  in.read_enum("injection", c.injection);
  in.read_enum("upsampling", c.upsampling);
  in.read_enum("downsampling", c.downsampling);
  in.read("dropout", c.dropout);
  in.read("conv_in_kernel", c.conv_in_kernel);
  in.read("conv_out_kernel", c.conv_out_kernel);
  in.read("norm_out", c.norm_out);
  in.read("zero_init_out", c.zero_init_out);
  in.read("embedding_dim", c.embedding_dim);
  in.read("flip_sin_to_cos", c.flip_sin_to_cos);
  in.read("freq_shift", c.freq_shift);
  in.read("downsample_padding", c.downsample_padding);
  in.read("mid_block_scale_factor", c.mid_block_scale_factor);
  in.read_enum("resnet_time_scale_shift", c.resnet_time_scale_shift);
  in.read("center_input_sample", c.center_input_sample);
  std::optional<int64_t> class_embeds = c.num_class_embeds;
  in.read("num_class_embeds", class_embeds);  // diffusers writes null for "unconditional"
  c.num_class_embeds = class_embeds.value_or(0);
  if (auto it = json.find("class_embed_type"); it != json.end() && it->is_null())
    in.ignore("class_embed_type");  // diffusers' null: the nn.Embedding
  else
    in.read_enum("class_embed_type", c.class_embed_type);
  in.read("attn_norm_num_groups", c.attn_norm_num_groups);
  in.read("timestep_scale", c.timestep_scale);
  in.finish();
  validate(c);
  return c;
}

std::vector<std::string> architecture_differences(const UNetConfig& a, const UNetConfig& b) {
  const auto ja = to_json(a), jb = to_json(b);
  std::vector<std::string> keys;
  for (const auto& [key, value] : ja.items()) {
    if (key == "sample_size" || key == "dropout" || key == "batch_norm_momentum" ||
        key == "zero_init_out")
      continue;
    if (value != jb.at(key)) keys.push_back(key);
  }
  return keys;
}

namespace {
/// Every field, in declaration order. A field added to UNetConfig changes its size and stops the
/// build here until it is listed (and then also written by to_json and read by the parser:
/// tests/models/test_unet_config.cpp checks each key of to_json round-trips on its own).
auto fields(const UNetConfig& c) {
  return std::tie(c.layout, c.sample_size, c.in_channels, c.out_channels, c.block_out_channels,
                  c.layers_per_block, c.down_block_types, c.up_block_types, c.add_attention,
                  c.attention_head_dim, c.norm, c.norm_num_groups, c.norm_eps,
                  c.batch_norm_momentum, c.conditioning, c.injection, c.upsampling, c.downsampling,
                  c.dropout, c.conv_in_kernel, c.conv_out_kernel, c.norm_out, c.zero_init_out,
                  c.embedding_dim, c.flip_sin_to_cos, c.freq_shift, c.downsample_padding,
                  c.mid_block_scale_factor, c.resnet_time_scale_shift, c.center_input_sample,
                  c.num_class_embeds, c.class_embed_type, c.attn_norm_num_groups, c.timestep_scale);
}
static_assert(sizeof(UNetConfig) == 288,
              "UNetConfig gained or lost a field: update fields() above, to_json and "
              "unet_config_from_json, then this size");
}  // namespace

bool operator==(const UNetConfig& a, const UNetConfig& b) {
  return fields(a) == fields(b);
}

void check_class_labels(const UNetConfig& config, const torch::Tensor& labels, int64_t batch) {
  if (config.num_class_embeds == 0) {
    require(!labels.defined(),
            "this model is not class-conditional (num_class_embeds is 0): it takes no class "
            "labels");
    return;
  }
  require(labels.defined(),
          fmt::format("this model is class-conditional (num_class_embeds = {}): class labels are "
                      "required",
                      config.num_class_embeds));
  require(
      !labels.is_floating_point() && !labels.is_complex() && labels.scalar_type() != torch::kBool,
      fmt::format("class labels must be integers, got {}",
                  std::string(c10::toString(labels.scalar_type()))));
  require(labels.dim() == 1 && labels.size(0) == batch,
          fmt::format("class labels must have shape [{}] (one per image), got [{}]", batch,
                      fmt::join(labels.sizes(), ", ")));
  if (batch == 0 || !labels.device().is_cpu()) return;  // no device sync (CUDA-graph capture)
  const int64_t lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
  require(lo >= 0 && hi < config.num_class_embeds,
          fmt::format("class labels must lie in [0, {}) (num_class_embeds), got values in [{}, {}]",
                      config.num_class_embeds, lo, hi));
}

}  // namespace ddpm

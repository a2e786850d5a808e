// UNetConfig: JSON round trip, strict parsing and validation messages.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "models/presets.h"
#include "models/unet_config.h"

namespace ddpm {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(UNetConfig, AbsentKeysKeepDefaults) {
  auto c = unet_config_from_json({{"sample_size", 64}});
  UNetConfig expected;
  expected.sample_size = 64;
  EXPECT_EQ(c, expected);
}

TEST(UNetConfig, EnumSpellings) {
  auto c = unet_config_from_json({{"norm", "batch-affine"},
                                  {"conditioning", "noise-variance"},
                                  {"injection", "input-only"},
                                  {"downsampling", "avg-pool"},
                                  {"upsampling", "bilinear"},
                                  {"resnet_time_scale_shift", "default"},
                                  {"layout", "diffusers"}});
  EXPECT_EQ(c.norm, NormType::batch_affine);
  EXPECT_EQ(c.conditioning, Conditioning::noise_variance);
  EXPECT_EQ(c.injection, Injection::input_only);
  EXPECT_EQ(c.downsampling, Downsampling::avg_pool);
  EXPECT_EQ(c.upsampling, Upsampling::bilinear);
  EXPECT_EQ(to_string(NormType::group), "group");
  EXPECT_EQ(to_string(NormType::batch), "batch");
  EXPECT_EQ(to_string(ResnetTimeScaleShift::scale_shift), "scale_shift");
  EXPECT_EQ(to_string(DownBlockType::attention), "AttnDownBlock2D");
  EXPECT_EQ(to_string(UpBlockType::plain), "UpBlock2D");
}

TEST(UNetConfig, UnknownKeyNamesAllowedKeys) {
  auto msg = error_of([] { unet_config_from_json({{"block_out_channel", {32, 64}}}); });
  EXPECT_NE(msg.find("unknown key 'block_out_channel'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("block_out_channels"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model"), std::string::npos) << msg;
}

TEST(UNetConfig, BadEnumNamesAllowedValues) {
  auto msg = error_of([] { unet_config_from_json({{"norm", "layer"}}); });
  EXPECT_NE(msg.find("'layer'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("group, batch, batch-affine"), std::string::npos) << msg;
  msg = error_of([] {
    unet_config_from_json({{"down_block_types", {"DownBlock2D", "CrossAttnDownBlock2D"}}});
  });
  EXPECT_NE(msg.find("down_block_types[1]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("DownBlock2D, AttnDownBlock2D"), std::string::npos) << msg;
  msg = error_of([] { unet_config_from_json({{"conditioning", "sigma"}}); });
  EXPECT_NE(msg.find("timestep, noise-variance"), std::string::npos) << msg;
}

TEST(UNetConfig, WrongTypeIsAnError) {
  auto msg = error_of([] { unet_config_from_json({{"layers_per_block", 1.5}}); });
  EXPECT_NE(msg.find("layers_per_block"), std::string::npos) << msg;
}

TEST(UNetConfig, AttentionHeadDimAcceptsNull) {
  auto c = unet_config_from_json({{"attention_head_dim", nullptr}});
  EXPECT_EQ(c.attention_head_dim, 0);
}

// Three levels 32/64/64, attention at the lowest; GroupNorm(8).
UNetConfig three_levels() {
  UNetConfig c;
  c.block_out_channels = {32, 64, 64};
  c.layers_per_block = 1;
  c.down_block_types = {DownBlockType::plain, DownBlockType::plain, DownBlockType::attention};
  c.up_block_types = {UpBlockType::attention, UpBlockType::plain, UpBlockType::plain};
  c.norm_num_groups = 8;
  c.sample_size = 32;
  validate(c);
  return c;
}

// Each key of to_json on its own: a valid config whose value of that field is not the default is
// written and read back equal, and the same JSON without that key reads back different — the
// key carries the field, and operator== (which compares fields) sees the one field that
// differs. The table must name every key to_json writes, so a field added without a case fails.
TEST(UNetConfig, EveryFieldRoundTripsOnItsOwnAndAMissingKeyIsDetected) {
  const UNetConfig diffusers = three_levels();
  const UNetConfig keras = model_preset("keras-ddim");
  struct Case {
    const char* key;
    const UNetConfig& base;
    std::function<void(UNetConfig&)> change;
  };
  const std::vector<Case> cases = {
      {"layout", diffusers,
       [&](UNetConfig& c) {
         c = keras;
         c.layout = UNetLayout::keras;
       }},
      {"sample_size", diffusers, [](UNetConfig& c) { c.sample_size = 64; }},
      {"in_channels", diffusers, [](UNetConfig& c) { c.in_channels = 1; }},
      {"out_channels", diffusers, [](UNetConfig& c) { c.out_channels = 6; }},
      {"block_out_channels", diffusers,
       [](UNetConfig& c) {
         c.block_out_channels = {32, 64, 96};
       }},
      {"layers_per_block", diffusers, [](UNetConfig& c) { c.layers_per_block = 3; }},
      {"down_block_types", diffusers,
       [](UNetConfig& c) { c.down_block_types[1] = DownBlockType::attention; }},
      {"up_block_types", diffusers,
       [](UNetConfig& c) { c.up_block_types[1] = UpBlockType::attention; }},
      {"add_attention", diffusers, [](UNetConfig& c) { c.add_attention = false; }},
      {"attention_head_dim", diffusers, [](UNetConfig& c) { c.attention_head_dim = 16; }},
      {"norm", diffusers, [](UNetConfig& c) { c.norm = NormType::batch_affine; }},
      {"norm_num_groups", diffusers, [](UNetConfig& c) { c.norm_num_groups = 16; }},
      {"norm_eps", diffusers, [](UNetConfig& c) { c.norm_eps = 1e-6; }},
      {"batch_norm_momentum", diffusers, [](UNetConfig& c) { c.batch_norm_momentum = 0.1; }},
      {"conditioning", diffusers,
       [](UNetConfig& c) { c.conditioning = Conditioning::noise_variance; }},
      {"injection", keras, [](UNetConfig& c) { c.injection = Injection::input_only; }},
      {"upsampling", diffusers, [](UNetConfig& c) { c.upsampling = Upsampling::bilinear; }},
      {"downsampling", diffusers, [](UNetConfig& c) { c.downsampling = Downsampling::avg_pool; }},
      {"dropout", diffusers, [](UNetConfig& c) { c.dropout = 0.1; }},
      {"conv_in_kernel", diffusers, [](UNetConfig& c) { c.conv_in_kernel = 1; }},
      {"conv_out_kernel", diffusers, [](UNetConfig& c) { c.conv_out_kernel = 1; }},
      {"norm_out", diffusers, [](UNetConfig& c) { c.norm_out = false; }},
      {"zero_init_out", diffusers, [](UNetConfig& c) { c.zero_init_out = true; }},
      {"embedding_dim", keras, [](UNetConfig& c) { c.embedding_dim = 16; }},
      {"flip_sin_to_cos", diffusers, [](UNetConfig& c) { c.flip_sin_to_cos = false; }},
      {"freq_shift", diffusers, [](UNetConfig& c) { c.freq_shift = 1.0; }},
      {"downsample_padding", diffusers, [](UNetConfig& c) { c.downsample_padding = 0; }},
      {"mid_block_scale_factor", diffusers, [](UNetConfig& c) { c.mid_block_scale_factor = 2.0; }},
      {"resnet_time_scale_shift", diffusers,
       [](UNetConfig& c) { c.resnet_time_scale_shift = ResnetTimeScaleShift::scale_shift; }},
      {"center_input_sample", diffusers, [](UNetConfig& c) { c.center_input_sample = true; }},
      {"num_class_embeds", diffusers, [](UNetConfig& c) { c.num_class_embeds = 11; }},
      {"attn_norm_num_groups", diffusers, [](UNetConfig& c) { c.attn_norm_num_groups = 16; }},
      {"timestep_scale", diffusers, [](UNetConfig& c) { c.timestep_scale = 0.25; }},
      {"class_embed_type", diffusers,
       [](UNetConfig& c) {
         c.num_class_embeds = 11;
         c.class_embed_type = ClassEmbedType::timestep;
       }},
  };
  std::set<std::string> covered;
  for (const auto& k : cases) {
    SCOPED_TRACE(k.key);
    covered.insert(k.key);
    UNetConfig c = k.base;
    k.change(c);
    ASSERT_NO_THROW(validate(c));
    nlohmann::json j = to_json(c);
    ASSERT_TRUE(j.contains(k.key));
    EXPECT_EQ(unet_config_from_json(j), c) << j.dump();
    j.erase(k.key);
    UNetConfig without;
    try {
      without = unet_config_from_json(j);
    } catch (const std::invalid_argument&) {
      continue;  // the rest no longer fits the default: detected too
    }
    EXPECT_NE(without, c) << "the config reads back equal without '" << k.key << "'";
  }
  std::set<std::string> written;
  const nlohmann::json defaults = to_json(UNetConfig{});
  for (const auto& [key, value] : defaults.items()) written.insert(key);
  EXPECT_EQ(covered, written);
  // Every preset survives the trip too.
  for (const auto& name : model_preset_names())
    EXPECT_EQ(unet_config_from_json(to_json(model_preset(name))), model_preset(name)) << name;
}

TEST(UNetConfig, ValidationMessagesSayWhatWasExpected) {
  UNetConfig c = three_levels();
  c.norm_num_groups = 24;
  auto msg = error_of([&] { validate(c); });
  EXPECT_NE(msg.find("not divisible by norm_num_groups 24"), std::string::npos) << msg;

  c = three_levels();
  c.sample_size = 30;
  msg = error_of([&] { validate(c); });
  EXPECT_NE(msg.find("sample_size 30 must be divisible by 2^(levels − 1) = 4"), std::string::npos)
      << msg;

  c = three_levels();
  c.down_block_types.pop_back();
  msg = error_of([&] { validate(c); });
  EXPECT_NE(msg.find("down_block_types needs 3 entries"), std::string::npos) << msg;

  c = model_preset("keras-ddim");
  c.down_block_types.push_back(DownBlockType::plain);  // keras: one per level but the last
  msg = error_of([&] { validate(c); });
  EXPECT_NE(msg.find("down_block_types needs 3 entries"), std::string::npos) << msg;

  c = three_levels();
  c.attention_head_dim = 7;
  msg = error_of([&] { validate(c); });
  EXPECT_NE(msg.find("not divisible by attention_head_dim 7"), std::string::npos) << msg;

  c = three_levels();
  c.conv_in_kernel = 5;
  msg = error_of([&] { validate(c); });
  EXPECT_NE(msg.find("conv_in_kernel must be 1 or 3, got 5"), std::string::npos) << msg;

  c = model_preset("keras-ddim");
  c.resnet_time_scale_shift = ResnetTimeScaleShift::scale_shift;
  msg = error_of([&] { validate(c); });
  EXPECT_NE(msg.find("scale_shift needs the diffusers layout"), std::string::npos) << msg;

  c = model_preset("bgano");
  c.embedding_dim = 12;
  msg = error_of([&] { validate(c); });
  EXPECT_NE(msg.find("embedding_dim 12"), std::string::npos) << msg;

  // from_json validates too.
  msg = error_of([] { unet_config_from_json({{"block_out_channels", {32, 48}}}); });
  EXPECT_NE(msg.find("down_block_types needs 2 entries"), std::string::npos) << msg;
}

}  // namespace
}  // namespace ddpm

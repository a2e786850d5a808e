// UNetConfig: JSON round trip, strict parsing and validation messages.
#include <gtest/gtest.h>

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

TEST(UNetConfig, JsonRoundTripGivesEqualConfig) {
  std::vector<UNetConfig> configs{UNetConfig{}};
  for (const auto& name : model_preset_names()) configs.push_back(model_preset(name));
  for (const auto& c : configs) {
    auto j = to_json(c);
    UNetConfig back = unet_config_from_json(j);
    EXPECT_EQ(back, c) << j.dump();
    EXPECT_EQ(to_json(back), j);
  }
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

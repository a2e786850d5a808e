// diffusers UNet2DModel config.json ⇄ UNetConfig, export-ability, legacy attention key names.
#include "runs/diffusers_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "models/presets.h"
#include "models/state_dict.h"
#include "models/unet.h"
#include "test_util.h"

namespace ddpm {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no exception)";
}

// google/ddpm-cifar10-32's config.json as the hub serves it (written by diffusers 0.0.4; the
// attention_head_dim null added when diffusers' default became 8).
const char* kGoogleCifar10 = R"({
  "_class_name": "UNet2DModel",
  "_diffusers_version": "0.0.4",
  "act_fn": "silu",
  "attention_head_dim": null,
  "block_out_channels": [128, 256, 256, 256],
  "center_input_sample": false,
  "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"],
  "downsample_padding": 0,
  "flip_sin_to_cos": false,
  "freq_shift": 1,
  "in_channels": 3,
  "layers_per_block": 2,
  "mid_block_scale_factor": 1,
  "norm_eps": 1e-06,
  "norm_num_groups": 32,
  "out_channels": 3,
  "sample_size": 32,
  "time_embedding_type": "positional",
  "up_block_types": ["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"]
})";

TEST(DiffusersFormat, ReadsTheTinyUnetConfigAndItsWeightsFitTheModel) {
  const auto path = test::fixture("tiny-unet/config.json");
  const UNetConfig c = unet_config_from_diffusers(read_json(path), path.string());
  EXPECT_EQ(c.layout, UNetLayout::diffusers);
  EXPECT_EQ(c.sample_size, 16);
  EXPECT_EQ(c.block_out_channels, (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(c.layers_per_block, 1);
  EXPECT_EQ(c.down_block_types, (std::vector{DownBlockType::plain, DownBlockType::attention}));
  EXPECT_EQ(c.up_block_types, (std::vector{UpBlockType::attention, UpBlockType::plain}));
  EXPECT_EQ(c.attention_head_dim, 8);
  EXPECT_EQ(c.norm_num_groups, 8);
  EXPECT_TRUE(c.flip_sin_to_cos);
  EXPECT_EQ(c.freq_shift, 0);
  UNet model(c);
  const auto ours = state_dict(*model);
  const auto theirs = test::load_fixture("tiny-unet/diffusion_pytorch_model.safetensors");
  ASSERT_EQ(ours.size(), theirs.size());
  for (const auto& [name, t] : theirs) {
    ASSERT_TRUE(ours.count(name)) << name;
    EXPECT_EQ(ours.at(name).sizes(), t.sizes()) << name;
  }
}

// The ddpm-cifar10 preset is google/ddpm-cifar10-32's network (dropout is the training recipe's
// 0.1; the hub config has no dropout key, so diffusers' 0.0 applies there).
TEST(DiffusersFormat, GoogleDdpmCifar10ConfigIsTheDdpmCifar10Preset) {
  const UNetConfig google = unet_config_from_diffusers(json::parse(kGoogleCifar10), "google");
  const UNetConfig preset = model_preset("ddpm-cifar10");
  EXPECT_TRUE(architecture_differences(google, preset).empty())
      << fmt::format("{}", fmt::join(architecture_differences(google, preset), ", "));
  EXPECT_EQ(google.dropout, 0.0);
  EXPECT_EQ(preset.dropout, 0.1);
  EXPECT_EQ(count_parameters(*UNet(google)), 35746307);  // the model card's 35.7M
}

TEST(DiffusersFormat, AbsentKeysTakeDiffusersDefaults) {
  const UNetConfig c = unet_config_from_diffusers({{"sample_size", 64}}, "config.json");
  EXPECT_EQ(c.block_out_channels, (std::vector<int64_t>{224, 448, 672, 896}));
  EXPECT_EQ(c.attention_head_dim, 8);  // absent: 8, not one head
  EXPECT_EQ(c.layers_per_block, 2);
  EXPECT_EQ(c.in_channels, 3);
  EXPECT_EQ(c.norm_num_groups, 32);
  EXPECT_EQ(c.norm_eps, 1e-5);
  EXPECT_TRUE(c.flip_sin_to_cos);
  EXPECT_EQ(c.downsample_padding, 1);
  EXPECT_EQ(c.down_block_types.size(), 4u);
  EXPECT_EQ(c.up_block_types.back(), UpBlockType::plain);
  // null means one head over all channels; a square [h, w] sample size is an integer one.
  const UNetConfig n = unet_config_from_diffusers(
      {{"sample_size", {64, 64}}, {"attention_head_dim", nullptr}, {"act_fn", "swish"}}, "c");
  EXPECT_EQ(n.attention_head_dim, 0);
  EXPECT_EQ(n.sample_size, 64);
}

TEST(DiffusersFormat, AcceptsLaterReleaseKeysWithTheirNeutralValues) {
  json j = json::parse(kGoogleCifar10);
  j["attn_norm_num_groups"] = nullptr;
  j["time_embedding_dim"] = 512;
  j["mid_block_type"] = "UNetMidBlock2D";
  j["num_train_timesteps"] = nullptr;
  j["_use_default_values"] = {"dropout"};
  EXPECT_EQ(unet_config_from_diffusers(j, "c"),
            unet_config_from_diffusers(json::parse(kGoogleCifar10), "c"));
}

TEST(DiffusersFormat, UnsupportedValuesNameTheKeyAndTheAllowedValues) {
  struct Case {
    const char* key;
    json value;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases{
      {"act_fn", "gelu", {"act_fn", "\"gelu\"", "\"silu\""}},
      {"time_embedding_type", "fourier", {"time_embedding_type", "\"fourier\"", "\"positional\""}},
      {"class_embed_type", "identity", {"class_embed_type", "\"identity\"", "null, \"timestep\""}},
      {"class_embed_type", "timestep", {"class_embed_type", "without num_class_embeds"}},
      {"num_class_embeds", 0, {"num_class_embeds", "null or an integer >= 1"}},
      {"num_class_embeds", "10", {"num_class_embeds", "\"10\""}},
      {"downsample_type", "resnet", {"downsample_type", "\"resnet\"", "\"conv\""}},
      {"upsample_type", "resnet", {"upsample_type", "\"conv\""}},
      {"down_block_types",
       {"DownBlock2D", "SkipDownBlock2D", "DownBlock2D", "DownBlock2D"},
       {"down_block_types[1]", "SkipDownBlock2D", "DownBlock2D, AttnDownBlock2D"}},
      {"up_block_types",
       {"UpBlock2D", "UpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"},
       {"up_block_types[2]", "CrossAttnUpBlock2D", "UpBlock2D, AttnUpBlock2D"}},
      {"resnet_time_scale_shift",
       "ada_group",
       {"resnet_time_scale_shift", "ada_group", "default, scale_shift"}},
      {"sample_size", nullptr, {"sample_size is null"}},
      {"sample_size", {32, 64}, {"sample_size [32,64]", "square"}},
      {"norm_num_groups", nullptr, {"norm_num_groups is null"}},
      {"norm_num_groups", 24, {"norm_num_groups 24", "128"}},
      {"_class_name", "UNet2DConditionModel", {"UNet2DConditionModel", "UNet2DModel"}},
      {"time_embedding_dim", 100, {"time_embedding_dim", "512"}},
      {"attn_norm_num_groups", -1, {"attn_norm_num_groups", "null"}},
      {"mid_block_type", nullptr, {"mid_block_type", "UNetMidBlock2D"}},
      {"in_channels", "3", {"in_channels", "integer"}},
      {"upsample_kernel", 3, {"unknown key 'upsample_kernel'", "block_out_channels"}},
      {"downsample_padding", 2, {"downsample_padding", "0", "1"}},
  };
  for (const auto& c : cases) {
    json j = json::parse(kGoogleCifar10);
    j[c.key] = c.value;
    const std::string message =
        error_of([&] { unet_config_from_diffusers(j, "cifar/config.json"); });
    EXPECT_THAT(message, HasSubstr("cifar/config.json")) << c.key;
    for (const auto& e : c.expected) EXPECT_THAT(message, HasSubstr(e)) << c.key;
  }
}

// Class conditioning, both of UNet2DModel's kinds: read, built with diffusers' tensor names, and
// written back.
TEST(DiffusersFormat, ClassConditionalConfigsReadBuildAndExport) {
  json j = json::parse(kGoogleCifar10);
  j["num_class_embeds"] = 10;
  auto table = unet_config_from_diffusers(j, "cifar/config.json");
  EXPECT_EQ(table.num_class_embeds, 10);
  EXPECT_EQ(table.class_embed_type, ClassEmbedType::embedding);
  j["class_embed_type"] = "timestep";
  auto mlp = unet_config_from_diffusers(j, "cifar/config.json");
  EXPECT_EQ(mlp.class_embed_type, ClassEmbedType::timestep);
  for (const auto& [c, key] : {std::pair{table, "class_embedding.weight"},
                               std::pair{mlp, "class_embedding.linear_1.weight"}}) {
    UNetConfig small = c;
    small.block_out_channels = {32, 64, 64, 64};
    EXPECT_TRUE(state_dict(*UNet(small)).count(key)) << key;
    auto out = unet_config_to_diffusers(c);
    EXPECT_EQ(out["num_class_embeds"], 10);
    EXPECT_EQ(unet_config_from_diffusers(out, "exported"), c);
  }
  EXPECT_TRUE(unet_config_to_diffusers(table)["class_embed_type"].is_null());
  EXPECT_EQ(unet_config_to_diffusers(mlp)["class_embed_type"], "timestep");
}

TEST(DiffusersFormat, ExportedConfigsReadBackEqualWithDiffusersKeys) {
  const auto reference = read_json(test::fixture("tiny-unet/config.json"));
  std::vector<UNetConfig> configs{model_preset("ddpm-cifar10"), model_preset("fashion-mnist"),
                                  unet_config_from_diffusers(reference, "tiny")};
  UNetConfig scale_shift = model_preset("fashion-mnist");
  scale_shift.resnet_time_scale_shift = ResnetTimeScaleShift::scale_shift;
  scale_shift.center_input_sample = true;
  scale_shift.mid_block_scale_factor = 1.4142135623730951;
  scale_shift.freq_shift = 0.5;
  configs.push_back(scale_shift);
  for (const auto& c : configs) {
    const json j = unet_config_to_diffusers(c);
    EXPECT_EQ(unet_config_from_diffusers(j, "export"), c) << j.dump();
    std::vector<std::string> keys, expected;
    for (const auto& item : j.items()) keys.push_back(item.key());
    for (const auto& item : reference.items()) expected.push_back(item.key());
    EXPECT_EQ(keys, expected) << "every key diffusers 0.21.4 writes, no other";
    EXPECT_EQ(j["_diffusers_version"], "0.21.4");
  }
  EXPECT_TRUE(
      unet_config_to_diffusers(model_preset("ddpm-cifar10"))["attention_head_dim"].is_null());
  EXPECT_TRUE(
      unet_config_to_diffusers(model_preset("ddpm-cifar10"))["freq_shift"].is_number_integer());
}

TEST(DiffusersFormat, ModelsUNet2DModelCannotExpressAreRefusedWithTheReason) {
  EXPECT_NO_THROW(check_diffusers_expressible(model_preset("fashion-mnist")));
  EXPECT_NO_THROW(check_diffusers_expressible(model_preset("ddpm-cifar10")));
  struct Case {
    const char* preset;
    std::vector<std::string> expected;
  };
  for (const Case& c :
       std::vector<Case>{{"keras-ddim",
                          {"layout keras", "norm batch", "noise-variance", "input-only", "bilinear",
                           "avg-pool", "conv_in_kernel 1"}},
                         {"bbno", {"layout keras", "norm batch"}},
                         {"bbano", {"layout keras", "norm batch-affine"}},
                         {"bgano", {"layout keras", "input-only", "conv_out_kernel 1"}}}) {
    const std::string message = error_of([&] { unet_config_to_diffusers(model_preset(c.preset)); });
    EXPECT_THAT(message, HasSubstr("UNet2DModel cannot express")) << c.preset;
    for (const auto& e : c.expected) EXPECT_THAT(message, HasSubstr(e)) << c.preset;
  }
  UNetConfig no_norm_out = model_preset("fashion-mnist");
  no_norm_out.norm_out = false;
  EXPECT_THAT(error_of([&] { check_diffusers_expressible(no_norm_out); }),
              HasSubstr("norm_out false"));
}

TEST(DiffusersFormat, LegacyAttentionKeysAreRenamedAndNothingElse) {
  const auto t = [](float v) { return torch::full({2}, v); };
  TensorMap legacy{{"mid_block.attentions.0.query.weight", t(1)},
                   {"mid_block.attentions.0.key.bias", t(2)},
                   {"down_blocks.1.attentions.1.value.weight", t(3)},
                   {"up_blocks.2.attentions.0.proj_attn.bias", t(4)},
                   {"up_blocks.2.attentions.0.group_norm.weight", t(5)},
                   {"mid_block.resnets.0.key.weight", t(6)},  // not an attention: untouched
                   {"mid_block.attentions.0.to_v.weight", t(7)}};
  const auto renamed = convert_legacy_attention_keys(legacy);
  const std::vector<std::pair<std::string, float>> expected{
      {"mid_block.attentions.0.to_q.weight", 1},
      {"mid_block.attentions.0.to_k.bias", 2},
      {"down_blocks.1.attentions.1.to_v.weight", 3},
      {"up_blocks.2.attentions.0.to_out.0.bias", 4},
      {"up_blocks.2.attentions.0.group_norm.weight", 5},
      {"mid_block.resnets.0.key.weight", 6},
      {"mid_block.attentions.0.to_v.weight", 7}};
  ASSERT_EQ(renamed.size(), expected.size());
  for (const auto& [name, v] : expected) {
    ASSERT_TRUE(renamed.count(name)) << name;
    EXPECT_EQ(renamed.at(name)[0].item<float>(), v) << name;
  }
  TensorMap both{{"mid_block.attentions.0.query.weight", t(1)},
                 {"mid_block.attentions.0.to_q.weight", t(1)}};
  EXPECT_THAT(error_of([&] { convert_legacy_attention_keys(both); }),
              HasSubstr("mid_block.attentions.0.to_q.weight"));
}

}  // namespace
}  // namespace ddpm

// UNet structure: diffusers state-dict names, shapes through every layout option, norms,
// zero-initialised output, determinism.
#include <gtest/gtest.h>

#include "models/presets.h"
#include "models/state_dict.h"
#include "models/unet.h"

namespace ddpm {
namespace {

UNetConfig small_diffusers() {
  UNetConfig c;
  c.block_out_channels = {32, 64};
  c.layers_per_block = 2;
  c.down_block_types = {DownBlockType::plain, DownBlockType::attention};
  c.up_block_types = {UpBlockType::attention, UpBlockType::plain};
  c.norm_num_groups = 8;
  c.sample_size = 16;
  return c;
}

torch::Tensor run(UNet& model, int64_t batch = 2) {
  const auto& c = model->config();
  auto x = torch::randn({batch, c.in_channels, c.sample_size, c.sample_size});
  auto cond = c.conditioning == Conditioning::timestep ? torch::tensor({10.0, 900.0})
                                                       : torch::tensor({0.05, 0.9});
  return model->forward(x, cond.slice(0, 0, batch));
}

TEST(UNet, DiffusersStateDictNames) {
  UNet model(small_diffusers());
  auto sd = state_dict(*model);
  for (const char* key :
       {"conv_in.weight", "time_embedding.linear_1.weight", "time_embedding.linear_2.bias",
        "down_blocks.0.resnets.1.norm1.weight", "down_blocks.0.resnets.0.time_emb_proj.weight",
        "down_blocks.0.downsamplers.0.conv.weight", "down_blocks.1.resnets.0.conv_shortcut.weight",
        "down_blocks.1.attentions.0.group_norm.weight", "down_blocks.1.attentions.0.to_q.weight",
        "down_blocks.1.attentions.1.to_out.0.weight", "down_blocks.1.attentions.0.to_out.0.bias",
        "mid_block.resnets.1.conv2.weight", "mid_block.attentions.0.to_k.bias",
        "up_blocks.0.resnets.2.conv_shortcut.weight", "up_blocks.0.attentions.2.to_v.weight",
        "up_blocks.0.upsamplers.0.conv.weight", "up_blocks.1.resnets.2.norm2.bias",
        "conv_norm_out.weight", "conv_out.bias"})
    EXPECT_TRUE(sd.count(key)) << key;
  EXPECT_FALSE(sd.count("down_blocks.1.downsamplers.0.conv.weight"));  // last level keeps size
  EXPECT_FALSE(sd.count("up_blocks.1.upsamplers.0.conv.weight"));
  EXPECT_FALSE(sd.count("up_blocks.1.attentions.0.to_q.weight"));
  // diffusers channel bookkeeping: up block 0 resnet 2 takes 64 + the 32-channel downsampler skip.
  EXPECT_EQ(sd.at("up_blocks.0.resnets.2.conv1.weight").sizes(),
            (std::vector<int64_t>{64, 96, 3, 3}));
  EXPECT_EQ(sd.at("up_blocks.1.resnets.0.conv1.weight").sizes(),
            (std::vector<int64_t>{32, 96, 3, 3}));
  EXPECT_EQ(sd.at("up_blocks.1.resnets.2.conv1.weight").sizes(),
            (std::vector<int64_t>{32, 64, 3, 3}));
  EXPECT_EQ(run(model).sizes(), (std::vector<int64_t>{2, 3, 16, 16}));
}

TEST(UNet, KerasLayoutNamesAndChannels) {
  UNet model(model_preset("keras-ddim"));
  auto sd = state_dict(*model);
  for (const char* key :
       {"conv_in.weight", "down_blocks.0.resnets.0.conv_shortcut.weight",
        "down_blocks.0.resnets.0.norm.running_mean", "down_blocks.2.resnets.1.conv2.weight",
        "mid_block.resnets.1.conv1.weight", "up_blocks.2.resnets.1.conv1.weight",
        "conv_out.weight"})
    EXPECT_TRUE(sd.count(key)) << key;
  EXPECT_FALSE(sd.count("time_embedding.linear_1.weight"));
  EXPECT_FALSE(sd.count("conv_norm_out.running_mean"));
  EXPECT_FALSE(sd.count("down_blocks.3.resnets.0.conv1.weight"));
  EXPECT_FALSE(sd.count("up_blocks.0.upsamplers.0.conv.weight"));  // bilinear: no conv
  // conv_in 1×1 to 32, then the 32-channel embedding: the first block sees 64 channels.
  EXPECT_EQ(sd.at("conv_in.weight").sizes(), (std::vector<int64_t>{32, 3, 1, 1}));
  EXPECT_EQ(sd.at("down_blocks.0.resnets.0.conv_shortcut.weight").sizes(),
            (std::vector<int64_t>{32, 64, 1, 1}));
  EXPECT_EQ(sd.at("mid_block.resnets.0.conv1.weight").sizes(),
            (std::vector<int64_t>{128, 96, 3, 3}));
  // Up block 0 (width 96) after upsampling the 128-channel mid output: 128 + 96, then 96 + 96.
  EXPECT_EQ(sd.at("up_blocks.0.resnets.0.conv1.weight").sizes(),
            (std::vector<int64_t>{96, 224, 3, 3}));
  EXPECT_EQ(sd.at("up_blocks.0.resnets.1.conv1.weight").sizes(),
            (std::vector<int64_t>{96, 192, 3, 3}));
  EXPECT_EQ(sd.at("up_blocks.2.resnets.1.conv1.weight").sizes(),
            (std::vector<int64_t>{32, 64, 3, 3}));
  EXPECT_EQ(sd.at("conv_out.weight").sizes(), (std::vector<int64_t>{3, 32, 1, 1}));
}

TEST(UNet, KerasOutputIsZeroAtInit) {
  UNet model(model_preset("keras-ddim"));
  auto y = run(model);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 3, 64, 64}));
  EXPECT_EQ(y.abs().max().item<double>(), 0.0);
}

TEST(UNet, BatchNormIsNonAffineForBatch) {
  UNet model(model_preset("keras-ddim"));
  int64_t batch_norms = 0;
  for (const auto& m : model->named_modules()) {
    if (auto* bn = m.value()->as<torch::nn::BatchNorm2d>()) {
      ++batch_norms;
      EXPECT_FALSE(bn->options.affine()) << m.key();
      EXPECT_NEAR(bn->options.momentum().value(), 0.01, 1e-12) << m.key();
      EXPECT_NEAR(bn->options.eps(), 1e-3, 1e-12) << m.key();
    }
  }
  EXPECT_EQ(batch_norms, 3 * 2 + 2 + 3 * 2);  // down, mid, up resnets; no norm_out
  for (const auto& p : model->named_parameters())
    EXPECT_EQ(p.key().find(".norm."), std::string::npos) << p.key();
  EXPECT_TRUE(model->named_buffers().contains("down_blocks.0.resnets.0.norm.running_var"));

  UNet affine(model_preset("bbano"));
  auto params = affine->named_parameters();
  EXPECT_TRUE(params.contains("down_blocks.0.resnets.0.norm.weight"));
  EXPECT_TRUE(params.contains("conv_norm_out.bias"));
  UNet group(model_preset("bgano"));
  EXPECT_TRUE(group->named_parameters().contains("down_blocks.0.resnets.0.norm.weight"));
  EXPECT_FALSE(group->named_buffers().contains("down_blocks.0.resnets.0.norm.running_mean"));
}

TEST(UNet, LayoutOptionsRunForwardAndBackward) {
  std::vector<std::pair<std::string, UNetConfig>> cases;
  {
    auto c = small_diffusers();  // DDPM style input-only embedding: skips carry 32 + 16 channels
    c.injection = Injection::input_only;
    c.embedding_dim = 16;
    c.conditioning = Conditioning::noise_variance;
    cases.emplace_back("diffusers input-only", c);
  }
  {
    auto c = small_diffusers();
    c.resnet_time_scale_shift = ResnetTimeScaleShift::scale_shift;
    c.downsample_padding = 0;
    c.mid_block_scale_factor = 1.4142;
    c.center_input_sample = true;
    c.attention_head_dim = 0;
    cases.emplace_back("diffusers scale_shift", c);
  }
  {
    auto c = small_diffusers();
    c.norm = NormType::batch_affine;
    c.upsampling = Upsampling::bilinear;
    c.downsampling = Downsampling::avg_pool;
    c.conv_in_kernel = 1;
    c.conv_out_kernel = 1;
    c.norm_out = false;
    c.dropout = 0.1;
    cases.emplace_back("diffusers batch-affine bilinear", c);
  }
  {
    auto c = model_preset("keras-ddim");
    c.sample_size = 16;
    c.injection = Injection::every_block;  // time_embedding MLP added after conv1
    c.zero_init_out = false;               // else no gradient reaches conv_in
    c.down_block_types = {DownBlockType::plain, DownBlockType::attention, DownBlockType::plain};
    c.up_block_types = {UpBlockType::attention, UpBlockType::plain, UpBlockType::plain};
    c.add_attention = true;
    c.attention_head_dim = 32;
    c.upsampling = Upsampling::nearest;
    c.downsampling = Downsampling::conv;
    cases.emplace_back("keras every-block attention", c);
  }
  for (auto& [name, c] : cases) {
    SCOPED_TRACE(name);
    UNet model(c);
    model->train();
    auto y = run(model);
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, c.out_channels, c.sample_size, c.sample_size}));
    y.square().mean().backward();
    auto grad = model->named_parameters()["conv_in.weight"].grad();
    ASSERT_TRUE(grad.defined());
    EXPECT_GT(grad.abs().sum().item<double>(), 0.0);
  }
  // scale_shift: projections to 2·out, and the mid attention has no group_norm (diffusers).
  auto sd = state_dict(*UNet(cases[1].second));
  EXPECT_EQ(sd.at("mid_block.resnets.0.time_emb_proj.weight").size(0), 128);
  EXPECT_FALSE(sd.count("mid_block.attentions.0.group_norm.weight"));
  EXPECT_TRUE(sd.count("down_blocks.1.attentions.0.group_norm.weight"));
  // Input-only diffusers: first resnet and last up resnet see 32 + 16 channels.
  auto io = state_dict(*UNet(cases[0].second));
  EXPECT_EQ(io.at("down_blocks.0.resnets.0.conv1.weight").size(1), 48);
  EXPECT_EQ(io.at("up_blocks.1.resnets.2.conv1.weight").size(1), 32 + 48);
  EXPECT_FALSE(io.count("time_embedding.linear_1.weight"));
  EXPECT_FALSE(io.count("down_blocks.0.resnets.0.time_emb_proj.weight"));
  // Keras every-block: time embedding from block_out_channels[0] = 32 to 128.
  auto kb = state_dict(*UNet(cases[3].second));
  EXPECT_EQ(kb.at("time_embedding.linear_1.weight").sizes(), (std::vector<int64_t>{128, 32}));
  EXPECT_TRUE(kb.count("down_blocks.0.resnets.0.time_emb_proj.weight"));
  EXPECT_TRUE(kb.count("up_blocks.0.upsamplers.0.conv.weight"));
  EXPECT_TRUE(kb.count("mid_block.attentions.0.to_q.weight"));
}

TEST(UNet, ConditioningBroadcastsAndChangesOutput) {
  torch::manual_seed(1);
  UNet model(small_diffusers());
  model->eval();
  torch::NoGradGuard no_grad;
  auto x = torch::randn({2, 3, 16, 16});
  auto a = model->forward(x, torch::tensor({5.0}));
  auto b = model->forward(x, torch::tensor({5.0, 5.0}));
  auto s = model->forward(x, torch::tensor(int64_t(5)));
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_TRUE(torch::equal(a, s));
  auto other = model->forward(x, torch::tensor({500.0, 5.0}));
  EXPECT_GT((other[0] - a[0]).abs().max().item<double>(), 1e-4);
  EXPECT_TRUE(torch::allclose(other[1], a[1], 1e-5, 1e-6));
}

TEST(UNet, BadInputsThrowSayingWhatWasExpected) {
  UNet model(small_diffusers());
  auto expect_error = [&](const torch::Tensor& x, const torch::Tensor& c, const std::string& part) {
    try {
      model->forward(x, c);
      ADD_FAILURE() << "no error for " << part;
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error(torch::randn({2, 1, 16, 16}), torch::ones({2}), "[B, 3, H, W]");
  expect_error(torch::randn({2, 3, 15, 15}), torch::ones({2}), "divisible by 2");
  expect_error(torch::randn({2, 3, 16, 16}), torch::ones({3}), "[B] = [2]");

  UNetConfig bad = small_diffusers();
  bad.norm_num_groups = 5;
  EXPECT_THROW(UNet{bad}, std::invalid_argument);
}

TEST(UNet, SameSeedSameInit) {
  torch::manual_seed(42);
  UNet a(model_preset("fashion-mnist"));
  torch::manual_seed(42);
  UNet b(model_preset("fashion-mnist"));
  auto sa = state_dict(*a), sb = state_dict(*b);
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& [name, t] : sa) EXPECT_TRUE(torch::equal(t, sb.at(name))) << name;
  torch::manual_seed(43);
  UNet c(model_preset("fashion-mnist"));
  EXPECT_FALSE(torch::equal(sa.at("conv_in.weight"), state_dict(*c).at("conv_in.weight")));
}

}  // namespace
}  // namespace ddpm

// Presets: every one builds and runs; ddpm-cifar10 has exactly the DDPM CIFAR-10 parameter count;
// the fashion-mnist preset's training step cost.
#include <gtest/gtest.h>

#include <algorithm>

#include "models/presets.h"
#include "models/unet.h"

namespace ddpm {
namespace {

TEST(Presets, DdpmCifar10HasTheDdpmParameterCount) {
  UNet model(model_preset("ddpm-cifar10"));
  EXPECT_EQ(count_parameters(*model), 35746307);  // google/ddpm-cifar10-32, 35.7M
}

// The Keras example's get_network(64, [32, 64, 96, 128], block_depth 2), counted layer by layer
// (conv k×k in→out: k²·in·out + out; non-affine BatchNorm has no parameters):
//   conv_in 1×1 3→32                                                        128
//   down 32 (in 32 + 32 embedding = 64): 29,792 + 18,496                 48,288
//   down 64: 57,536 + 73,856                                            131,392
//   down 96: 144,672 + 166,080                                          310,752
//   mid 128 (2 blocks): 270,720 + 295,168                               565,888
//   up 96 (in 128 + 96, 96 + 96 skips): 298,272 + 267,552               565,824
//   up 64 (96 + 64, 64 + 64): 139,456 + 118,976                        258,432
//   up 32 (64 + 32, 32 + 32): 40,032 + 29,792                            69,824
//   conv_out 1×1 32→3                                                        99
// = 1,950,627 trainable parameters. The study's variants change it by what they add: bbno's
// 3×3 conv_in (+8·3·32 = 768), bbano's affine BatchNorm (+2 per normalised channel: 2,944),
// bgano's GroupNorm (as many affine parameters as bbano).
TEST(Presets, TheStudysVariantsHaveTheKerasParameterCounts) {
  auto count = [](const char* name) {
    UNet model(model_preset(name));
    return count_parameters(*model);
  };
  EXPECT_EQ(count("bk"), 1950627);
  EXPECT_EQ(count("keras-ddim"), 1950627);
  EXPECT_EQ(count("bbno") - count("bk"), 768);
  EXPECT_EQ(count("bbano") - count("bbno"), 2944);
  EXPECT_EQ(count("bgano"), count("bbano"));
}

TEST(Presets, EveryPresetBuildsAndRuns) {
  for (const auto& name : model_preset_names()) {
    SCOPED_TRACE(name);
    UNetConfig c = model_preset(name);
    c.sample_size = 16;  // tiny input; divisible by 2^(levels − 1) for every preset
    UNet model(c);
    model->eval();
    torch::NoGradGuard no_grad;
    auto x = torch::randn({2, c.in_channels, 16, 16});
    auto cond = c.conditioning == Conditioning::timestep ? torch::tensor({3.0, 700.0})
                                                         : torch::tensor({0.02, 0.95});
    auto y = model->forward(x, cond);
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, c.out_channels, 16, 16}));
    EXPECT_TRUE(y.isfinite().all().item<bool>());
    std::cout << "[ preset   ] " << name << ": " << count_parameters(*model) << " parameters\n";
  }
}

TEST(Presets, UnknownNameListsAllowedNames) {
  try {
    model_preset("ddpm-cifar");
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'ddpm-cifar'"), std::string::npos) << msg;
    for (const auto& name : model_preset_names())
      EXPECT_NE(msg.find(name), std::string::npos) << msg;
  }
}

// bk (the study's baseline) is the Keras DDIM example's network, checked field by field against
// the example's get_network(64, [32, 64, 96, 128], 2) rather than against another preset: a
// non-affine BatchNorm (center=False, scale=False, epsilon 1e-3, momentum 0.99), the
// noise-variance sinusoid (embedding_dims 32) at the input only, no attention, 1×1 convs in and
// out, bilinear up / average-pool down, and the output conv initialised to zero.
TEST(Presets, BkIsTheKerasExamplesNetwork) {
  for (const char* name : {"bk", "keras-ddim"}) {
    SCOPED_TRACE(name);
    const UNetConfig c = model_preset(name);
    EXPECT_EQ(c.layout, UNetLayout::keras);
    EXPECT_EQ(c.sample_size, 64);
    EXPECT_EQ(c.in_channels, 3);
    EXPECT_EQ(c.out_channels, 3);
    EXPECT_EQ(c.block_out_channels, (std::vector<int64_t>{32, 64, 96, 128}));
    EXPECT_EQ(c.layers_per_block, 2);
    EXPECT_FALSE(c.add_attention);
    EXPECT_EQ(c.norm, NormType::batch);
    EXPECT_DOUBLE_EQ(c.norm_eps, 1e-3);
    EXPECT_DOUBLE_EQ(c.batch_norm_momentum, 0.01);
    EXPECT_EQ(c.conditioning, Conditioning::noise_variance);
    EXPECT_EQ(c.injection, Injection::input_only);
    EXPECT_EQ(c.embedding_dim, 32);
    EXPECT_EQ(c.upsampling, Upsampling::bilinear);
    EXPECT_EQ(c.downsampling, Downsampling::avg_pool);
    EXPECT_EQ(c.conv_in_kernel, 1);
    EXPECT_EQ(c.conv_out_kernel, 1);
    EXPECT_FALSE(c.norm_out);
    EXPECT_TRUE(c.zero_init_out);
    // Built, it has no affine norm parameters and a zero output layer.
    UNet model(c);
    for (const auto& p : model->named_parameters(true))
      EXPECT_EQ(p.key().find("norm"), std::string::npos) << p.key();
    auto x = torch::randn({1, 3, 64, 64});
    EXPECT_EQ(model->forward(x, torch::tensor({0.5})).abs().max().item<double>(), 0.0);
  }
}

// Small enough for 2 CPU cores (its speed is ddpm_bench's business): 1-2M parameters, and one
// 32×32×1 batch runs forward and backward.
TEST(Presets, FashionMnistIsSmall) {
  torch::manual_seed(0);
  UNet model(model_preset("fashion-mnist"));
  const int64_t params = count_parameters(*model);
  EXPECT_GT(params, 1000000);
  EXPECT_LT(params, 2000000);
  model->train();
  auto x = torch::randn({2, 1, 32, 32});
  auto loss = (model->forward(x, torch::tensor({10.0f, 900.0f})) - x).square().mean();
  loss.backward();
  for (const auto& p : model->parameters()) ASSERT_TRUE(p.grad().defined());
}

}  // namespace
// Every preset can be made class-conditional (ddpm train --class-conditional): K = 10 classes
// and a null class. The labels change the output; the rest of the network is the preset's.
TEST(Presets, EveryPresetCanBeMadeClassConditional) {
  for (const auto& name : model_preset_names()) {
    SCOPED_TRACE(name);
    UNetConfig c = model_preset(name);
    c.sample_size = 16;
    c.num_class_embeds = 11;
    c.zero_init_out = false;  // so that the output depends on the input at initialisation
    UNet model(c);
    model->eval();
    torch::NoGradGuard no_grad;
    auto x = torch::randn({2, c.in_channels, 16, 16});
    auto cond = c.conditioning == Conditioning::timestep ? torch::tensor({3.0, 700.0})
                                                         : torch::tensor({0.02, 0.95});
    auto a = model->forward(x, cond, torch::tensor({0, 10}, torch::kLong));
    auto b = model->forward(x, cond, torch::tensor({5, 3}, torch::kLong));
    EXPECT_EQ(a.sizes(), (std::vector<int64_t>{2, c.out_channels, 16, 16}));
    EXPECT_FALSE(torch::allclose(a, b)) << "labels reach the network";
    UNetConfig plain = model_preset(name);
    plain.sample_size = 16;
    plain.zero_init_out = false;
    EXPECT_EQ(count_parameters(*model) - count_parameters(*UNet(plain)),
              11 * (c.injection == Injection::every_block ? time_embed_dim(c) : c.embedding_dim))
        << "one embedding table more";
  }
}

}  // namespace ddpm

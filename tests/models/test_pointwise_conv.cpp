// The pointwise kernel's 1×1 convolutions against LibTorch's (oneDNN) on random shapes (channels
// 1–512, out-channels not a multiple of the micro-kernel's rows, pixel counts not a multiple of
// 8, fewer than 8, batch 1 and more), under every instruction set this CPU has; and conv1x1's
// dispatch: measured per shape under the automatic policy without gradients, oneDNN with
// gradients and under the fixed policies; the two-input form (a skip connection's concatenation,
// never made) bit for bit as on the concatenation, and a residual block on a skip connection.
#include "models/conv3x3.h"
#include "models/kernels/pointwise_conv_kernel.h"
#include "models/kernels/winograd_conv_kernel.h"
#include "models/resnet_block.h"
#include "test_util.h"

namespace ddpm {
namespace {

double relative_gap(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item<double>();
}

torch::nn::Conv2d pointwise_layer(int64_t in, int64_t out, bool bias = true) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).bias(bias));
}

TEST(PointwiseConv, MatchesOneDnnOnRandomShapesUnderEveryInstructionSet) {
  torch::manual_seed(11);
  struct Shape {
    int64_t n, c, k, h, w;
  };
  const std::vector<Shape> shapes = {{1, 1, 1, 1, 1},     {2, 3, 5, 7, 7},      {1, 48, 16, 32, 32},
                                     {3, 96, 32, 16, 16}, {2, 160, 96, 4, 4},   {1, 512, 256, 8, 8},
                                     {2, 17, 33, 5, 3},   {1, 384, 128, 9, 11}, {4, 8, 12, 2, 2}};
  const auto best = kernels::winograd_cpu_isa();
  for (int isa = 0; isa <= int(best); ++isa) {
    kernels::set_winograd_isa(kernels::WinogradIsa(isa));
    for (const auto& s : shapes) {
      for (bool bias : {true, false}) {
        auto layer = pointwise_layer(s.c, s.k, bias);
        auto x = torch::randn({s.n, s.c, s.h, s.w});
        torch::NoGradGuard no_grad;
        const auto ours = torch::empty({s.n, s.k, s.h, s.w});
        const kernels::PointwiseShape shape{s.n, s.c, s.k, s.h * s.w};
        kernels::pointwise_conv_forward(shape, x.data_ptr<float>(), layer->weight.data_ptr<float>(),
                                        bias ? layer->bias.data_ptr<float>() : nullptr,
                                        ours.data_ptr<float>());
        EXPECT_LT(relative_gap(ours, layer->forward(x)), 2e-6)
            << "isa " << isa << " shape " << s.n << "x" << s.c << "->" << s.k << "x" << s.h << "x"
            << s.w << (bias ? " with bias" : "");
      }
    }
  }
  kernels::set_winograd_isa(best);
}

TEST(PointwiseConv, Conv1x1IsMeasuredWithoutGradientsAndOneDnnOtherwise) {
  torch::manual_seed(12);
  reset_conv3x3_choices();
  auto layer = pointwise_layer(96, 32);
  auto x = torch::randn({4, 96, 16, 16});
  const auto reference = [&] {
    torch::NoGradGuard no_grad;
    return layer->forward(x);
  }();
  // Fixed policies: oneDNN, nothing decided.
  set_conv3x3_policy(Conv3x3Policy::winograd4);
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(conv1x1(layer, x), reference));
  }
  EXPECT_TRUE(conv3x3_choices().empty());
  set_conv3x3_policy(Conv3x3Policy::automatic);
  // With a gradient: oneDNN, and the gradient flows.
  auto xg = x.clone().requires_grad_();
  conv1x1(layer, xg).sum().backward();
  EXPECT_TRUE(xg.grad().defined());
  EXPECT_TRUE(conv3x3_choices().empty()) << "training shapes are not candidates";
  // Without: measured once, the decision follows the measurement, the output agrees.
  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    y = conv1x1(layer, x);
  }
  EXPECT_LT(relative_gap(y, reference), 2e-6);
  const std::string key = "4x96->32x16x16 1x1";
  ASSERT_EQ(conv3x3_choices().count(key), 1u);
  const auto t = conv3x3_measurements().at(key);
  EXPECT_TRUE(std::isnan(t.winograd2) && std::isnan(t.winograd4));
  EXPECT_EQ(conv3x3_choices().at(key) == Conv3x3Algorithm::pointwise, t.pointwise < 0.9 * t.onednn);
  // Pinned: taken as it is.
  pin_conv3x3_choices({{key, Conv3x3Algorithm::pointwise}});
  {
    torch::NoGradGuard no_grad;
    EXPECT_LT(relative_gap(conv1x1(layer, x), reference), 2e-6);
  }
  // Strided or padded 1×1 layers are not candidates.
  auto strided = torch::nn::Conv2d(torch::nn::Conv2dOptions(96, 32, 1).stride(2));
  {
    torch::NoGradGuard no_grad;
    EXPECT_EQ(conv1x1(strided, x).sizes(), (std::vector<int64_t>{4, 32, 8, 8}));
  }
  EXPECT_EQ(conv3x3_choices().size(), 1u);
  reset_conv3x3_choices();
  set_conv3x3_policy(Conv3x3Policy::onednn);
}

TEST(PointwiseConv, ConcatOfTwoInputsEqualsTheOneOnTheirConcatenation) {
  torch::manual_seed(13);
  const auto best = kernels::winograd_cpu_isa();
  for (int isa = 0; isa <= int(best); ++isa) {
    kernels::set_winograd_isa(kernels::WinogradIsa(isa));
    for (const auto [n, c1, c2, k, h, w] :
         {std::array<int64_t, 6>{2, 32, 16, 16, 8, 8}, std::array<int64_t, 6>{1, 5, 3, 13, 3, 7},
          std::array<int64_t, 6>{3, 0, 7, 9, 4, 4}, std::array<int64_t, 6>{1, 64, 64, 96, 4, 4}}) {
      auto x1 = torch::randn({n, c1, h, w}), x2 = torch::randn({n, c2, h, w});
      auto weight = torch::randn({k, c1 + c2}), bias = torch::randn({k});
      const kernels::PointwiseShape s{n, c1 + c2, k, h * w};
      auto joined = torch::empty({n, k, h, w}), split = torch::empty({n, k, h, w});
      const auto x = torch::cat({x1, x2}, 1);
      kernels::pointwise_conv_forward(s, x.data_ptr<float>(), weight.data_ptr<float>(),
                                      bias.data_ptr<float>(), joined.data_ptr<float>());
      kernels::pointwise_conv_forward_concat(s, x1.data_ptr<float>(), c1, x2.data_ptr<float>(),
                                             weight.data_ptr<float>(), bias.data_ptr<float>(),
                                             split.data_ptr<float>());
      EXPECT_TRUE(torch::equal(split, joined))
          << "isa " << isa << ": " << c1 << " | " << c2 << " -> " << k << " at " << h << "x" << w;
    }
  }
  kernels::set_winograd_isa(best);
  const kernels::PointwiseShape s{1, 4, 4, 8};
  float v[32] = {};
  EXPECT_THROW(kernels::pointwise_conv_forward_concat(s, v, 2, nullptr, v, nullptr, v),
               std::invalid_argument);
}

TEST(PointwiseConv, ResidualBlockOnASkipConnectionEqualsTheOneOnTheConcatenation) {
  torch::manual_seed(14);
  ResnetBlockOptions o;
  o.in_channels = 48;  // 32 from below, 16 from the skip
  o.out_channels = 16;
  o.temb_channels = 8;
  o.norm = NormOptions{NormType::group, 8, 1e-5, 0.01};
  ResnetBlock2D block(o);
  block->eval();
  auto h = torch::randn({2, 32, 8, 8}), skip = torch::randn({2, 16, 8, 8});
  auto temb = torch::randn({2, 8});
  reset_conv3x3_choices();
  for (const auto policy : {Conv3x3Policy::onednn, Conv3x3Policy::automatic}) {
    set_conv3x3_policy(policy);
    torch::NoGradGuard no_grad;
    const auto joined = block->forward(torch::cat({h, skip}, 1), temb);
    EXPECT_TRUE(torch::equal(block->forward_concat(h, skip, temb), joined)) << to_string(policy);
  }
  reset_conv3x3_choices();
  set_conv3x3_policy(Conv3x3Policy::onednn);
}

}  // namespace
}  // namespace ddpm

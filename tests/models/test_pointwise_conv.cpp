// The pointwise kernel's 1×1 convolutions against LibTorch's (oneDNN) on random shapes (channels
// 1–512, out-channels not a multiple of the micro-kernel's rows, pixel counts not a multiple of
// 8 or 16, fewer than 8, batch 1 and more), forward and both backward passes (split between two
// inputs too), under every instruction set this CPU has; and conv1x1's dispatch: measured per
// shape under the automatic policy, with and without gradients, oneDNN under the fixed policies;
// gradients through the autograd function as oneDNN's; the two-input form (a skip connection's
// concatenation, never made) bit for bit as on the concatenation, and a residual block on a skip
// connection.
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

TEST(PointwiseConv, BackwardMatchesOneDnnOnRandomShapesUnderEveryInstructionSet) {
  torch::manual_seed(15);
  // n, in-channels from x, in-channels from x2 (0: none), out-channels, height, width.
  const std::vector<std::array<int64_t, 6>> shapes = {
      {1, 1, 0, 1, 1, 1},    {2, 3, 0, 5, 7, 7},    {32, 32, 16, 16, 8, 8}, {3, 64, 32, 32, 4, 4},
      {2, 96, 64, 64, 4, 4}, {1, 5, 2, 7, 5, 3},    {2, 17, 0, 33, 7, 9},   {1, 256, 0, 9, 6, 6},
      {4, 8, 4, 12, 2, 2},   {1, 48, 0, 16, 32, 32}};
  const auto best = kernels::winograd_cpu_isa();
  for (int isa = 0; isa <= int(best); ++isa) {
    kernels::set_winograd_isa(kernels::WinogradIsa(isa));
    for (const auto [n, c1, c2, k, h, w] : shapes) {
      const int64_t C = c1 + c2, P = h * w;
      auto x = torch::randn({n, C, h, w}, torch::requires_grad());
      auto weight = torch::randn({k, C, 1, 1}, torch::requires_grad());
      auto dy = torch::randn({n, k, h, w});
      torch::conv2d(x, weight).backward(dy);
      const auto x1 = x.detach().narrow(1, 0, c1).contiguous();
      const auto x2 = x.detach().narrow(1, c1, c2).contiguous();
      auto dx1 = torch::full({n, c1, h, w}, 7.0f), dx2 = torch::full({n, c2, h, w}, 7.0f);
      auto dw = torch::full({k, C}, 7.0f);  // overwritten, not added to
      const kernels::PointwiseShape s{n, C, k, P};
      kernels::pointwise_conv_input_grad(s, dy.data_ptr<float>(), weight.data_ptr<float>(), c1,
                                         dx1.data_ptr<float>(),
                                         c2 ? dx2.data_ptr<float>() : nullptr);
      kernels::pointwise_conv_weight_grad(s, dy.data_ptr<float>(), x1.data_ptr<float>(), c1,
                                          c2 ? x2.data_ptr<float>() : nullptr,
                                          dw.data_ptr<float>());
      const auto where = "isa " + std::to_string(isa) + ": " + std::to_string(n) + "x" +
                         std::to_string(c1) + "+" + std::to_string(c2) + "->" + std::to_string(k) +
                         " at " + std::to_string(h) + "x" + std::to_string(w);
      EXPECT_LT(relative_gap(torch::cat({dx1, dx2}, 1), x.grad()), 2e-6) << where;
      EXPECT_LT(relative_gap(dw, weight.grad().view({k, C})), 2e-6) << where;
    }
  }
  kernels::set_winograd_isa(best);
  const kernels::PointwiseShape s{1, 4, 4, 8};
  float v[32] = {};
  EXPECT_THROW(kernels::pointwise_conv_input_grad(s, v, v, 2, v, nullptr), std::invalid_argument);
  EXPECT_THROW(kernels::pointwise_conv_weight_grad(s, v, v, 5, v, v), std::invalid_argument);
}

TEST(PointwiseConv, Conv1x1IsMeasuredWithAndWithoutGradientsAndOneDnnUnderFixedPolicies) {
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
  // With a gradient: measured forward + backward under its own key, without touching the
  // parameters' .grad; the gradients agree with oneDNN's whichever way it went.
  auto dy = torch::randn({4, 32, 16, 16});
  auto xg = x.clone().requires_grad_();
  layer->forward(xg).backward(dy);
  const auto dx_ref = xg.grad().clone(), dw_ref = layer->weight.grad().clone(),
             db_ref = layer->bias.grad().clone();
  xg.mutable_grad() = torch::Tensor();
  for (auto& p : layer->parameters()) p.mutable_grad() = torch::Tensor();
  const std::string grad_key = "4x96->32x16x16+grad 1x1";
  for (const auto pinned : {false, true}) {
    if (pinned) pin_conv3x3_choices({{grad_key, Conv3x3Algorithm::pointwise}});
    conv1x1(layer, xg).backward(dy);
    ASSERT_EQ(conv3x3_choices().count(grad_key), 1u);
    EXPECT_LT(relative_gap(xg.grad(), dx_ref), 2e-6) << "pinned " << pinned;
    EXPECT_LT(relative_gap(layer->weight.grad(), dw_ref), 2e-6) << "pinned " << pinned;
    EXPECT_LT(relative_gap(layer->bias.grad(), db_ref), 2e-6) << "pinned " << pinned;
    xg.mutable_grad() = torch::Tensor();
    for (auto& p : layer->parameters()) p.mutable_grad() = torch::Tensor();
  }
  const auto tg = conv3x3_measurements().at(grad_key);
  EXPECT_TRUE(tg.onednn > 0 && tg.pointwise > 0);
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
  EXPECT_EQ(conv3x3_choices().size(), 2u);
  reset_conv3x3_choices();
  set_conv3x3_policy(Conv3x3Policy::onednn);
}

TEST(PointwiseConv, GradientsOnASkipConnectionMatchOneDnnOnTheConcatenation) {
  torch::manual_seed(16);
  auto layer = pointwise_layer(48, 16);
  auto h = torch::randn({2, 32, 8, 8}, torch::requires_grad());
  auto skip = torch::randn({2, 16, 8, 8}, torch::requires_grad());
  auto dy = torch::randn({2, 16, 8, 8});
  layer->forward(torch::cat({h, skip}, 1)).backward(dy);
  const auto dh = h.grad().clone(), dskip = skip.grad().clone(), dw = layer->weight.grad().clone(),
             db = layer->bias.grad().clone();
  h.mutable_grad() = skip.mutable_grad() = torch::Tensor();
  for (auto& p : layer->parameters()) p.mutable_grad() = torch::Tensor();
  reset_conv3x3_choices();
  set_conv3x3_policy(Conv3x3Policy::automatic);
  pin_conv3x3_choices({{"2x48->16x8x8+grad 1x1", Conv3x3Algorithm::pointwise}});
  const auto y = conv1x1_concat(layer, h, skip);
  EXPECT_NE(y.grad_fn()->name().find("PointwiseConvFunction"), std::string::npos)
      << y.grad_fn()->name();
  y.backward(dy);
  EXPECT_LT(relative_gap(h.grad(), dh), 2e-6);
  EXPECT_LT(relative_gap(skip.grad(), dskip), 2e-6);
  EXPECT_LT(relative_gap(layer->weight.grad(), dw), 2e-6);
  EXPECT_LT(relative_gap(layer->bias.grad(), db), 2e-6);
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

// The Winograd 3×3 convolutions against LibTorch's (oneDNN): forward on random shapes (channels
// 1–256, sizes 4–64, odd sizes, batch 1 and more), both gradients by comparison with oneDNN's
// backward, each under every instruction set this CPU has (baseline, AVX2, AVX-512), the
// transformed-weight cache following in-place weight updates, the direct kernel of the narrow
// layers, the policy and autotune (decisions kept per shape and following the measurements,
// pinned), and a residual added inside the forward bit for bit as added after it.
#include "models/conv3x3.h"

#include "models/kernels/direct_conv_kernel.h"
#include "models/kernels/winograd_conv_kernel.h"
#include "test_util.h"

namespace ddpm {
namespace {

struct Shape {
  int64_t n, c, k, h, w;
};

// Max |Δ| / max |ref|: F(2×2) rounds like direct convolution, F(4×4)'s larger transform entries
// (up to 8 and 1/24) cost about one decimal digit.
double tolerance(Conv3x3Algorithm a) {
  return a == Conv3x3Algorithm::winograd2 ? 2e-5 : 2e-4;
}

double relative_gap(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item<double>();
}

const std::vector<Shape> kShapes = {{1, 1, 8, 4, 4},     {1, 3, 32, 17, 17},   {2, 16, 16, 5, 7},
                                    {1, 64, 64, 32, 32}, {1, 128, 96, 16, 16}, {1, 256, 256, 8, 8},
                                    {3, 40, 24, 9, 13},  {1, 32, 64, 64, 64},  {1, 7, 5, 31, 31}};

/// Every instruction set up to the CPU's best, each set in turn for the body; the best one again
/// at the end.
template <class Body>
void for_each_isa(Body body) {
  const auto best = kernels::winograd_cpu_isa();
  for (int i = 0; i <= int(best); ++i) {
    kernels::set_winograd_isa(kernels::WinogradIsa(i));
    SCOPED_TRACE("instruction set " + std::to_string(i));
    body();
  }
  kernels::set_winograd_isa(best);
}

TEST(Conv3x3, WinogradForwardMatchesLibTorch) {
  torch::manual_seed(0);
  for_each_isa([] {
    for (const auto a : {Conv3x3Algorithm::winograd2, Conv3x3Algorithm::winograd4})
      for (const auto& s : kShapes) {
        auto x = torch::randn({s.n, s.c, s.h, s.w});
        auto w = torch::randn({s.k, s.c, 3, 3}) / std::sqrt(9.0 * double(s.c));
        auto b = torch::randn({s.k});
        torch::NoGradGuard no_grad;
        const auto ref = torch::conv2d(x, w, b, 1, 1);
        const double gap = relative_gap(winograd_conv3x3(x, w, b, a), ref);
        EXPECT_LT(gap, tolerance(a))
            << to_string(a) << " " << s.n << "x" << s.c << "->" << s.k << " " << s.h << "x" << s.w;
        EXPECT_LT(
            relative_gap(winograd_conv3x3(x, w, torch::Tensor(), a), torch::conv2d(x, w, {}, 1, 1)),
            tolerance(a));
      }
  });
}

TEST(Conv3x3, WinogradGradientsMatchOneDnnBackward) {
  torch::manual_seed(1);
  for_each_isa([] {
    for (const auto a : {Conv3x3Algorithm::winograd2, Conv3x3Algorithm::winograd4})
      for (const auto& s : kShapes) {
        auto x0 = torch::randn({s.n, s.c, s.h, s.w});
        auto w0 = torch::randn({s.k, s.c, 3, 3}) / std::sqrt(9.0 * double(s.c));
        auto b0 = torch::randn({s.k});
        auto dy = torch::randn({s.n, s.k, s.h, s.w});
        auto grads = [&](bool winograd) {
          auto x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_(),
               b = b0.clone().requires_grad_();
          auto y = winograd ? winograd_conv3x3(x, w, b, a) : torch::conv2d(x, w, b, 1, 1);
          y.backward(dy);
          return std::vector<torch::Tensor>{x.grad(), w.grad(), b.grad()};
        };
        const auto ours = grads(true), ref = grads(false);
        const char* names[] = {"dx", "dw", "db"};
        for (int i = 0; i < 3; ++i)
          EXPECT_LT(relative_gap(ours[size_t(i)], ref[size_t(i)]), tolerance(a))
              << names[i] << " " << to_string(a) << " " << s.n << "x" << s.c << "->" << s.k << " "
              << s.h << "x" << s.w;
      }
  });
}

TEST(Conv3x3, CachedWeightsFollowInPlaceUpdates) {
  torch::manual_seed(2);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(64, 64, 3).padding(1));
  auto x = torch::randn({1, 64, 12, 12});
  set_conv3x3_policy(Conv3x3Policy::winograd4);
  torch::NoGradGuard no_grad;
  const auto before = conv3x3(conv, x);
  EXPECT_LT(relative_gap(conv3x3(conv, x), conv->forward(x)), 2e-4);  // from the cache
  conv->weight.mul_(-0.5);  // an optimizer step or a checkpoint load, in place
  const auto after = conv3x3(conv, x);
  EXPECT_LT(relative_gap(after, conv->forward(x)), 2e-4) << "the cache saw the new weights";
  EXPECT_GT(relative_gap(after, before), 0.5);
  // Another instruction set lays U out otherwise (64 columns: 24 + 24 + 16 in 8s, 32 + 32 in 16s):
  // the cache must not hand the other layout over.
  if (kernels::winograd_cpu_isa() != kernels::WinogradIsa::baseline) {
    kernels::set_winograd_isa(kernels::WinogradIsa::baseline);
    EXPECT_LT(relative_gap(conv3x3(conv, x), conv->forward(x)), 2e-4) << "baseline layout";
    kernels::set_winograd_isa(kernels::winograd_cpu_isa());
    EXPECT_LT(relative_gap(conv3x3(conv, x), conv->forward(x)), 2e-4) << "best layout again";
  }
  set_conv3x3_policy(Conv3x3Policy::onednn);
}

TEST(Conv3x3, AutotuneDecidesOncePerShapeAndCanBePinned) {
  torch::manual_seed(3);
  reset_conv3x3_choices();
  set_conv3x3_policy(Conv3x3Policy::automatic);
  torch::nn::Conv2d wide(torch::nn::Conv2dOptions(64, 64, 3).padding(1));
  torch::nn::Conv2d narrow(torch::nn::Conv2dOptions(8, 8, 3).padding(1));
  torch::nn::Conv2d strided(torch::nn::Conv2dOptions(64, 64, 3).padding(1).stride(2));
  auto x = torch::randn({2, 64, 16, 16});
  {
    torch::NoGradGuard no_grad;
    const auto y = conv3x3(wide, x);
    EXPECT_LT(relative_gap(y, wide->forward(x)), 2e-4);
    EXPECT_TRUE(torch::equal(conv3x3(wide, x), y)) << "decided once, then reused";
    conv3x3(narrow, torch::randn({2, 8, 16, 16}));
    EXPECT_EQ(conv3x3(strided, x).sizes(), (std::vector<int64_t>{2, 64, 8, 8}));
  }
  auto choices = conv3x3_choices();
  ASSERT_EQ(choices.size(), 2u) << "the strided layer is not a candidate";
  ASSERT_TRUE(conv3x3_measurements().count("2x64->64x16x16"));
  ASSERT_TRUE(conv3x3_measurements().count("2x8->8x16x16")) << "narrow layers are measured too";
  // The decision follows the measurement: Winograd only when ≥ 10 % faster.
  for (const auto& [key, t] : conv3x3_measurements()) {
    const bool winograd = std::min(t.winograd2, t.winograd4) < 0.9 * t.onednn;
    EXPECT_EQ(choices.at(key) != Conv3x3Algorithm::onednn, winograd) << key;
  }
  // Training shapes are decided separately (forward + backward), and gradients flow.
  auto xg = x.clone().requires_grad_();
  conv3x3(wide, xg).sum().backward();
  EXPECT_TRUE(xg.grad().defined());
  EXPECT_TRUE(conv3x3_choices().count("2x64->64x16x16+grad"));
  // Pinned choices are taken as they are.
  pin_conv3x3_choices({{"2x64->64x16x16", Conv3x3Algorithm::winograd2}});
  EXPECT_EQ(conv3x3_choices().at("2x64->64x16x16"), Conv3x3Algorithm::winograd2);
  reset_conv3x3_choices();
  EXPECT_TRUE(conv3x3_choices().empty());
  set_conv3x3_policy(Conv3x3Policy::onednn);
  EXPECT_THROW(parse_enum<Conv3x3Policy>("fast"), std::invalid_argument);
}

TEST(Conv3x3, DirectKernelMatchesLibTorchOnNarrowLayers) {
  torch::manual_seed(5);
  // One to four channels on a side, widths with every remainder of its 16-output runs, batch 1+.
  const std::vector<Shape> shapes = {{1, 1, 1, 1, 1},   {2, 1, 16, 32, 32}, {3, 16, 1, 17, 33},
                                     {1, 3, 128, 8, 5}, {2, 128, 3, 9, 16}, {1, 4, 4, 15, 47},
                                     {1, 2, 7, 3, 2}};
  for (const auto& s : shapes) {
    const auto x = torch::randn({s.n, s.c, s.h, s.w});
    const auto w = torch::randn({s.k, s.c, 3, 3}) / std::sqrt(9.0 * double(s.c));
    const auto b = torch::randn({s.k});
    for (const bool with_bias : {true, false}) {
      auto y = torch::full({s.n, s.k, s.h, s.w}, std::nanf(""));
      kernels::direct_conv3x3_forward(
          {s.n, s.c, s.k, s.h, s.w}, x.data_ptr<float>(), w.data_ptr<float>(),
          with_bias ? b.data_ptr<float>() : nullptr, y.data_ptr<float>());
      const auto ref = torch::conv2d(x, w, with_bias ? b : torch::Tensor(), 1, 1);
      EXPECT_LT(relative_gap(y, ref), 2e-6)
          << s.n << "x" << s.c << "->" << s.k << " " << s.h << "x" << s.w << " bias " << with_bias;
    }
  }
}

TEST(Conv3x3, DirectKernelIsOfferedToNarrowLayersWithoutGradientsOnly) {
  torch::manual_seed(6);
  reset_conv3x3_choices();
  set_conv3x3_policy(Conv3x3Policy::automatic);
  torch::nn::Conv2d conv_in(torch::nn::Conv2dOptions(1, 16, 3).padding(1));
  torch::nn::Conv2d conv_out(torch::nn::Conv2dOptions(16, 1, 3).padding(1));
  torch::nn::Conv2d wide(torch::nn::Conv2dOptions(16, 16, 3).padding(1));
  const auto image = torch::randn({2, 1, 16, 16}), features = torch::randn({2, 16, 16, 16});
  {
    torch::NoGradGuard no_grad;
    EXPECT_LT(relative_gap(conv3x3(conv_in, image), conv_in->forward(image)), 2e-4);
    EXPECT_LT(relative_gap(conv3x3(conv_out, features), conv_out->forward(features)), 2e-4);
    conv3x3(wide, features);
  }
  conv3x3(conv_in, image.clone().requires_grad_()).sum().backward();
  const auto t = conv3x3_measurements();
  EXPECT_FALSE(std::isnan(t.at("2x1->16x16x16").direct));
  EXPECT_FALSE(std::isnan(t.at("2x16->1x16x16").direct));
  EXPECT_TRUE(std::isnan(t.at("2x16->16x16x16").direct)) << "16 channels on both sides";
  EXPECT_TRUE(std::isnan(t.at("2x1->16x16x16+grad").direct)) << "forward only";
  // The decision follows the measurements, direct included.
  for (const auto& key : {"2x1->16x16x16", "2x16->1x16x16"}) {
    const auto& m = t.at(key);
    const double best = std::min({m.winograd2, m.winograd4, m.direct});
    const auto kept = conv3x3_choices().at(key);
    if (best >= 0.9 * m.onednn)
      EXPECT_EQ(kept, Conv3x3Algorithm::onednn) << key;
    else
      EXPECT_EQ(kept, m.direct == best             ? Conv3x3Algorithm::direct
                      : m.winograd4 <= m.winograd2 ? Conv3x3Algorithm::winograd4
                                                   : Conv3x3Algorithm::winograd2)
          << key;
  }
  // A direct decision pinned where a gradient is needed runs oneDNN: the gradient still flows.
  pin_conv3x3_choices({{"2x16->1x16x16+grad", Conv3x3Algorithm::direct}});
  auto xg = features.clone().requires_grad_();
  conv3x3(conv_out, xg).sum().backward();
  auto xr = features.clone().requires_grad_();
  conv_out->forward(xr).sum().backward();
  EXPECT_TRUE(torch::allclose(xg.grad(), xr.grad()));
  EXPECT_EQ(parse_enum<Conv3x3Algorithm>("direct"), Conv3x3Algorithm::direct);
  reset_conv3x3_choices();
  set_conv3x3_policy(Conv3x3Policy::onednn);
}

TEST(Conv3x3, ResidualAddedInTheForwardEqualsTheSumAfterIt) {
  torch::manual_seed(31);
  for (const auto policy :
       {Conv3x3Policy::winograd2, Conv3x3Policy::winograd4, Conv3x3Policy::onednn}) {
    set_conv3x3_policy(policy);
    for (const Shape s : {Shape{2, 16, 24, 9, 13}, Shape{1, 8, 8, 4, 4}, Shape{3, 5, 17, 6, 6}}) {
      auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(s.c, s.k, 3).padding(1));
      const auto x = torch::randn({s.n, s.c, s.h, s.w});
      const auto residual = torch::randn({s.n, s.k, s.h, s.w});
      const auto where = to_string(policy) + " " + std::to_string(s.c) + "->" +
                         std::to_string(s.k) + " at " + std::to_string(s.h) + "x" +
                         std::to_string(s.w);
      {
        torch::NoGradGuard no_grad;
        EXPECT_TRUE(torch::equal(conv3x3(conv, x, residual), conv3x3(conv, x) + residual)) << where;
        // Broadcast and non-contiguous residuals take the plain sum.
        const auto row = torch::randn({1, s.k, 1, 1});
        EXPECT_TRUE(torch::equal(conv3x3(conv, x, row), conv3x3(conv, x) + row)) << where;
        const auto strided = torch::randn({s.n, s.k, s.w, s.h}).transpose(2, 3);
        EXPECT_TRUE(torch::equal(conv3x3(conv, x, strided), conv3x3(conv, x) + strided)) << where;
      }
      // With autograd: the same values, and the gradient reaches both terms.
      auto xg = x.clone().requires_grad_(), rg = residual.clone().requires_grad_();
      const auto y = conv3x3(conv, xg, rg);
      EXPECT_TRUE(torch::equal(y.detach(), (conv3x3(conv, x) + residual).detach())) << where;
      y.sum().backward();
      EXPECT_TRUE(torch::equal(rg.grad(), torch::ones_like(residual))) << where;
      EXPECT_TRUE(xg.grad().defined()) << where;
    }
  }
  set_conv3x3_policy(Conv3x3Policy::onednn);
}

}  // namespace
}  // namespace ddpm

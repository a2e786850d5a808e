// Downsample2D / Upsample2D against hand computations.
#include <gtest/gtest.h>

#include "models/sampling_layers.h"

namespace ddpm {
namespace {

namespace F = torch::nn::functional;

TEST(Downsample2D, PaddingZeroPadsRightAndBottom) {
  Downsample2D down(4, Downsampling::conv, 0);
  auto x = torch::randn({2, 4, 8, 8});
  auto y = down(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 4, 4, 4}));
  auto params = down->named_parameters();
  auto padded = F::pad(x, F::PadFuncOptions({0, 1, 0, 1}));  // [2, 4, 9, 9]
  auto expected = F::conv2d(padded, params["conv.weight"],
                            F::Conv2dFuncOptions().bias(params["conv.bias"]).stride(2));
  EXPECT_TRUE(torch::allclose(y, expected, 1e-6, 1e-6));
  Downsample2D padded_one(4, Downsampling::conv, 1);
  EXPECT_EQ(padded_one(x).sizes(), (std::vector<int64_t>{2, 4, 4, 4}));
}

TEST(Downsample2D, AvgPoolHasNoParameters) {
  Downsample2D down(3, Downsampling::avg_pool, 1);
  EXPECT_TRUE(down->parameters().empty());
  auto x = torch::arange(16, torch::kFloat32).view({1, 1, 4, 4});
  auto y = down(x);
  EXPECT_FLOAT_EQ(y[0][0][0][0].item<float>(), (0 + 1 + 4 + 5) / 4.0f);
  EXPECT_FLOAT_EQ(y[0][0][1][1].item<float>(), (10 + 11 + 14 + 15) / 4.0f);
}

TEST(Upsample2D, BilinearUsesHalfPixelCentres) {
  Upsample2D up(1, Upsampling::bilinear);
  EXPECT_TRUE(up->parameters().empty());
  auto x = torch::tensor({0.0f, 1.0f, 2.0f, 3.0f}).view({1, 1, 2, 2});
  auto y = up(x);  // TF2 UpSampling2D(bilinear): row 0 = 0, 0.25, 0.75, 1
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 1, 4, 4}));
  auto row = y[0][0][0];
  EXPECT_FLOAT_EQ(row[0].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(row[1].item<float>(), 0.25f);
  EXPECT_FLOAT_EQ(row[2].item<float>(), 0.75f);
  EXPECT_FLOAT_EQ(row[3].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(y[0][0][1][0].item<float>(), 0.5f);  // 0.25 of the way to row 1 (value 2)
}

TEST(Upsample2D, NearestThenConv) {
  Upsample2D up(2, Upsampling::nearest);
  auto params = up->named_parameters();
  ASSERT_TRUE(params.contains("conv.weight"));
  auto x = torch::randn({1, 2, 3, 3});
  auto nearest = x.repeat_interleave(2, 2).repeat_interleave(2, 3);  // [1, 2, 6, 6]
  auto expected = F::conv2d(nearest, params["conv.weight"],
                            F::Conv2dFuncOptions().bias(params["conv.bias"]).padding(1));
  EXPECT_TRUE(torch::allclose(up(x), expected, 1e-6, 1e-6));
}

TEST(UpsampleNearest2x, EqualsLibTorchsNearestOnEveryWidthWithAndWithoutGradients) {
  // Widths around the kernel's 8-float steps (tails of 0–7), a non-contiguous input, and sizes
  // large enough to run on several threads.
  for (const auto& shape : std::vector<std::vector<int64_t>>{{1, 1, 1, 1},
                                                             {2, 3, 5, 7},
                                                             {2, 2, 4, 8},
                                                             {1, 3, 3, 9},
                                                             {3, 4, 6, 17},
                                                             {8, 64, 16, 16}}) {
    const auto x = torch::randn(shape);
    const auto expected = F::interpolate(x, F::InterpolateFuncOptions()
                                                .scale_factor(std::vector<double>{2.0, 2.0})
                                                .mode(torch::kNearest));
    torch::Tensor y;
    {
      torch::NoGradGuard no_grad;
      y = upsample_nearest2x(x);
    }
    EXPECT_TRUE(torch::equal(y, expected)) << shape;
  }
  const auto wide = torch::randn({2, 5, 4, 6}).transpose(2, 3);  // [2, 5, 6, 4], strided
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(upsample_nearest2x(wide),
                           F::interpolate(wide, F::InterpolateFuncOptions()
                                                    .scale_factor(std::vector<double>{2.0, 2.0})
                                                    .mode(torch::kNearest))));
}

TEST(UpsampleNearest2x, KeepsTheGradientThroughLibTorch) {
  auto x = torch::randn({2, 3, 4, 5}, torch::requires_grad());
  upsample_nearest2x(x).sum().backward();
  EXPECT_TRUE(torch::equal(x.grad(), torch::full_like(x, 4.0f)));  // each value used 4 times
}

}  // namespace
}  // namespace ddpm

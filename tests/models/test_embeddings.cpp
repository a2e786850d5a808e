// Embeddings against hand computations (diffusers get_timestep_embedding, Keras
// sinusoidal_embedding).
#include <gtest/gtest.h>

#include <cmath>

#include "models/embeddings.h"

namespace ddpm {
namespace {

TEST(TimestepEmbedding, DdpmStyleSinThenCos) {
  // flip_sin_to_cos = false, shift 1, dim 4: half 2, frequencies exp(−ln 10⁴ · i / 1) = 1, 1e-4.
  auto e = timestep_embedding(torch::tensor({0.0, 10.0}), 4, false, 1.0);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(e.scalar_type(), torch::kFloat32);
  EXPECT_NEAR(e[0][0].item<double>(), 0.0, 1e-7);
  EXPECT_NEAR(e[0][2].item<double>(), 1.0, 1e-7);
  EXPECT_NEAR(e[1][0].item<double>(), std::sin(10.0), 1e-6);
  EXPECT_NEAR(e[1][1].item<double>(), std::sin(1e-3), 1e-6);
  EXPECT_NEAR(e[1][2].item<double>(), std::cos(10.0), 1e-6);
  EXPECT_NEAR(e[1][3].item<double>(), std::cos(1e-3), 1e-6);
}

TEST(TimestepEmbedding, DiffusersFlipAndShiftZero) {
  // flip_sin_to_cos = true, shift 0, dim 4: frequencies exp(−ln 10⁴ · i / 2) = 1, 0.01.
  auto e = timestep_embedding(torch::tensor({int64_t(10)}), 4, true, 0.0);
  EXPECT_NEAR(e[0][0].item<double>(), std::cos(10.0), 1e-6);
  EXPECT_NEAR(e[0][1].item<double>(), std::cos(0.1), 1e-6);
  EXPECT_NEAR(e[0][2].item<double>(), std::sin(10.0), 1e-6);
  EXPECT_NEAR(e[0][3].item<double>(), std::sin(0.1), 1e-6);
  // Odd widths are zero-padded.
  auto odd = timestep_embedding(torch::tensor({3.0}), 5, true, 0.0);
  EXPECT_EQ(odd.size(1), 5);
  EXPECT_EQ(odd[0][4].item<double>(), 0.0);
}

TEST(TimestepEmbedding, WideEmbeddingEntry) {
  // dim 32, shift 1, t = 500: entry i = 3 is sin(500 · 10^(−4·3/15)).
  auto e = timestep_embedding(torch::tensor({500.0}), 32, false, 1.0);
  const double f = std::exp(-std::log(10000.0) * 3.0 / 15.0);
  EXPECT_NEAR(e[0][3].item<double>(), std::sin(500.0 * f), 1e-4);
  EXPECT_NEAR(e[0][16 + 3].item<double>(), std::cos(500.0 * f), 1e-4);
}

TEST(NoiseVarianceEmbedding, KerasSinusoid) {
  // dim 6: frequencies exp(linspace(0, ln 1000, 3)) = 1, √1000, 1000; ω = 2π f.
  const double v = 0.1;
  auto e = noise_variance_embedding(torch::tensor({v, 0.0}), 6);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{2, 6}));
  const double f[3] = {1.0, std::sqrt(1000.0), 1000.0};
  for (int i = 0; i < 3; ++i) {
    const double angle = 2 * M_PI * f[i] * v;
    EXPECT_NEAR(e[0][i].item<double>(), std::sin(angle), 2e-4) << i;
    EXPECT_NEAR(e[0][3 + i].item<double>(), std::cos(angle), 2e-4) << i;
    EXPECT_EQ(e[1][i].item<double>(), 0.0);
    EXPECT_EQ(e[1][3 + i].item<double>(), 1.0);
  }
  EXPECT_THROW(noise_variance_embedding(torch::tensor({v}), 5), c10::Error);
}

TEST(TimestepEmbeddingMLP, NamesAndShape) {
  TimestepEmbedding mlp(32, 128);
  auto params = mlp->named_parameters();
  EXPECT_TRUE(params.contains("linear_1.weight"));
  EXPECT_TRUE(params.contains("linear_2.bias"));
  EXPECT_EQ(params["linear_1.weight"].sizes(), (std::vector<int64_t>{128, 32}));
  EXPECT_EQ(mlp->forward(torch::randn({3, 32})).sizes(), (std::vector<int64_t>{3, 128}));
}

}  // namespace
}  // namespace ddpm

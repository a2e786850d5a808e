// Fréchet distance: zero for a set against itself, growing with added noise, and equal to a
// float64 reference computed by an independent formula (the eigenvalues of Σ₁Σ₂) to 1e-6.
#include <gtest/gtest.h>

#include "eval/frechet_distance.h"
#include "test_util.h"

namespace ddpm {
namespace {

// Features with correlated dimensions: z A + b, z ~ N(0, I).
torch::Tensor correlated(int64_t n, int64_t d, uint64_t seed, double shift = 0.0) {
  auto gen = at::detail::createCPUGenerator(seed);
  auto mix = torch::randn({d, d}, gen, torch::kFloat64) / std::sqrt(double(d));
  return torch::randn({n, d}, gen, torch::kFloat64).matmul(mix) + shift;
}

// tr((Σ₁Σ₂)^½) as Σ √λ_i over the eigenvalues of the non-symmetric product (real and ≥ 0 in
// exact arithmetic), computed by the general eigensolver: independent of the symmetric form.
double reference_frechet(const FeatureStatistics& a, const FeatureStatistics& b) {
  auto eig = torch::linalg_eigvals(a.sigma.matmul(b.sigma));
  const double tr_sqrt = torch::real(eig).clamp_min(0).sqrt().sum().item<double>();
  return (a.mu - b.mu).pow(2).sum().item<double>() + a.sigma.trace().item<double>() +
         b.sigma.trace().item<double>() - 2 * tr_sqrt;
}

TEST(FrechetDistance, StatisticsMatchNumpyCov) {
  auto f = correlated(50, 4, 1);
  auto s = feature_statistics(f);
  auto c = f - f.mean(0);
  EXPECT_TRUE(test::tensors_close(s.sigma, c.t().matmul(c) / 49.0, 1e-12));
  EXPECT_TRUE(test::tensors_close(s.mu, f.mean(0), 1e-12));
  EXPECT_EQ(s.count, 50);
}

TEST(FrechetDistance, OfASetWithItselfIsZero) {
  for (int64_t n : {20, 500}) {  // 20 < 64: rank-deficient covariances, where sqrtm struggles
    auto s = feature_statistics(correlated(n, 64, 2).to(torch::kFloat32));
    const double d = frechet_distance(s, s);
    EXPECT_NEAR(d, 0.0, 1e-9 * s.sigma.trace().item<double>()) << "n = " << n;
  }
}

TEST(FrechetDistance, GrowsWithAddedNoise) {
  auto gen = at::detail::createCPUGenerator(3);
  auto clean = correlated(2000, 16, 4);
  auto base = feature_statistics(clean);
  double previous = frechet_distance(base, feature_statistics(clean));
  for (double sigma : {0.1, 0.3, 1.0, 3.0}) {
    auto noisy = clean + sigma * torch::randn(clean.sizes(), gen, torch::kFloat64);
    const double d = frechet_distance(base, feature_statistics(noisy));
    EXPECT_GT(d, previous) << "sigma " << sigma;
    previous = d;
  }
}

TEST(FrechetDistance, MatchesFloat64ReferenceToOneInAMillion) {
  for (uint64_t seed : {5, 6, 7}) {
    auto a = feature_statistics(correlated(300, 32, seed));
    auto b = feature_statistics(correlated(200, 32, seed + 100, /*shift=*/0.3));
    const double got = frechet_distance(a, b), want = reference_frechet(a, b);
    EXPECT_NEAR(got, want, 1e-6 * std::abs(want)) << "seed " << seed << " gap " << got - want;
  }
}

TEST(FrechetDistance, DiagonalCaseInClosedForm) {
  // Σ diagonal: d² = ‖μ₁ − μ₂‖² + Σ (√a_i − √b_i)².
  FeatureStatistics a, b;
  a.mu = torch::tensor({0.0, 1.0, 2.0}, torch::kFloat64);
  b.mu = torch::tensor({1.0, 1.0, 0.0}, torch::kFloat64);
  a.sigma = torch::diag(torch::tensor({1.0, 4.0, 9.0}, torch::kFloat64));
  b.sigma = torch::diag(torch::tensor({4.0, 4.0, 1.0}, torch::kFloat64));
  const double want = (1 + 0 + 4) + (1 + 0 + 4);
  EXPECT_NEAR(frechet_distance(a, b), want, 1e-12);
}

TEST(FrechetDistance, RejectsMismatchedDimensions) {
  auto a = feature_statistics(correlated(10, 3, 8)), b = feature_statistics(correlated(10, 4, 9));
  try {
    frechet_distance(a, b);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("3 vs 4"), std::string::npos) << e.what();
  }
  EXPECT_THROW(feature_statistics(torch::zeros({1, 3})), std::invalid_argument);
}

}  // namespace
}  // namespace ddpm

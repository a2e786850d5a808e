// KID: the unbiased MMD² estimator against a direct double loop, its expectation 0 for two draws
// of one distribution (where the biased V-statistic is clearly positive), and the subset logic.
#include <gtest/gtest.h>

#include "eval/kid.h"
#include "test_util.h"

namespace ddpm {
namespace {

double k(const torch::Tensor& a, const torch::Tensor& b) {
  return std::pow(a.dot(b).item<double>() / double(a.size(0)) + 1.0, 3);
}

TEST(KID, Mmd2MatchesTheDefinitionByLoops) {
  auto gen = at::detail::createCPUGenerator(1);
  auto x = torch::randn({7, 3}, gen, torch::kFloat64),
       y = torch::randn({7, 3}, gen, torch::kFloat64) + 0.5;
  const int64_t m = 7;
  double xx = 0, yy = 0, xy = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j) {
      if (i != j) {
        xx += k(x[i], x[j]);
        yy += k(y[i], y[j]);
      }
      xy += k(x[i], y[j]);
    }
  const double want = (xx + yy) / double(m * (m - 1)) - 2 * xy / double(m * m);
  EXPECT_NEAR(mmd2_unbiased(x, y), want, 1e-12 * std::abs(want));
}

// Two independent draws of one distribution: the mean of MMD²_u over many repetitions is 0 within
// its standard error, while the biased estimate (diagonals kept) is positive by many errors.
TEST(KID, UnbiasedOnTwoDrawsOfOneDistribution) {
  auto gen = at::detail::createCPUGenerator(2);
  const int64_t reps = 400, m = 40, d = 8;
  std::vector<double> unbiased, biased;
  for (int64_t r = 0; r < reps; ++r) {
    auto x = torch::randn({m, d}, gen, torch::kFloat64);
    auto y = torch::randn({m, d}, gen, torch::kFloat64);
    unbiased.push_back(mmd2_unbiased(x, y));
    auto kxx = (x.matmul(x.t()) / double(d) + 1).pow(3),
         kyy = (y.matmul(y.t()) / double(d) + 1).pow(3);
    auto kxy = (x.matmul(y.t()) / double(d) + 1).pow(3);
    biased.push_back(((kxx.sum() + kyy.sum() - 2 * kxy.sum()) / double(m * m)).item<double>());
  }
  auto u = torch::tensor(unbiased, torch::kFloat64), b = torch::tensor(biased, torch::kFloat64);
  const double se = u.std().item<double>() / std::sqrt(double(reps));
  EXPECT_LT(std::abs(u.mean().item<double>()), 3 * se)
      << "mean " << u.mean().item<double>() << ", standard error " << se;
  EXPECT_GT(b.mean().item<double>(), 10 * se) << "the biased estimate should be visibly positive";
}

TEST(KID, SeparatesDifferentDistributions) {
  auto gen = at::detail::createCPUGenerator(3);
  auto a = torch::randn({300, 8}, gen, torch::kFloat64);
  auto same = torch::randn({300, 8}, gen, torch::kFloat64);
  auto shifted = torch::randn({300, 8}, gen, torch::kFloat64) + 0.5;
  KIDOptions o;
  o.subsets = 20;
  o.subset_size = 100;
  auto r_same = kernel_inception_distance(a, same, o);
  auto r_diff = kernel_inception_distance(a, shifted, o);
  EXPECT_GT(r_diff.mean, 10 * std::abs(r_same.mean)) << r_diff.mean << " vs " << r_same.mean;
  EXPECT_GT(r_diff.std, 0);
  EXPECT_EQ(r_diff.subset_size, 100);
}

TEST(KID, SubsetSizeCapsAtTheSmallerSetAndIsSeeded) {
  auto gen = at::detail::createCPUGenerator(4);
  auto a = torch::randn({30, 4}, gen), b = torch::randn({50, 4}, gen);
  KIDOptions o;
  o.subsets = 5;
  auto r1 = kernel_inception_distance(a, b, o), r2 = kernel_inception_distance(a, b, o);
  EXPECT_EQ(r1.subset_size, 30);
  EXPECT_EQ(r1.mean, r2.mean) << "one seed, one answer";
  // Each subset holds all of `a` (permuted): the whole-set estimate when b is as small.
  auto full = kernel_inception_distance(a, b.slice(0, 0, 30), o);
  EXPECT_NEAR(full.mean, mmd2_unbiased(a, b.slice(0, 0, 30)), 1e-12);
  EXPECT_NEAR(full.std, 0.0, 1e-12);
}

TEST(KID, RejectsBadInput) {
  EXPECT_THROW(kernel_inception_distance(torch::zeros({5, 3}), torch::zeros({5, 4})),
               std::invalid_argument);
  EXPECT_THROW(kernel_inception_distance(torch::zeros({1, 3}), torch::zeros({5, 3})),
               std::invalid_argument);
}

}  // namespace
}  // namespace ddpm

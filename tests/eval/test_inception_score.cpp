// Inception Score at its two ends: 1 when every image gets the same class distribution, K when
// every image is classified with certainty and the K classes are equally common.
#include <gtest/gtest.h>

#include "eval/inception_score.h"

namespace ddpm {
namespace {

TEST(InceptionScore, OneForIdenticalPredictions) {
  auto logits = torch::randn({1, 10}).repeat({100, 1});
  auto r = inception_score(logits, 10);
  EXPECT_NEAR(r.mean, 1.0, 1e-9);
  EXPECT_NEAR(r.std, 0.0, 1e-9);
}

TEST(InceptionScore, NumberOfClassesForConfidentBalancedPredictions) {
  const int64_t K = 10, n = 200;
  auto labels = torch::arange(n) % K;
  auto logits = torch::one_hot(labels, K).to(torch::kFloat64) * 100.0;  // softmax ≈ one-hot
  auto r = inception_score(logits, 2);
  EXPECT_NEAR(r.mean, double(K), 1e-6);
  EXPECT_EQ(r.splits, 2);
}

TEST(InceptionScore, MatchesTheDefinitionOnRandomLogits) {
  auto gen = at::detail::createCPUGenerator(1);
  auto logits = torch::randn({40, 5}, gen, torch::kFloat64) * 2;
  auto p = torch::softmax(logits, 1);
  auto py = p.mean(0);
  const double kl = (p * (p.log() - py.log())).sum(1).mean().item<double>();
  EXPECT_NEAR(inception_score(logits, 1).mean, std::exp(kl), 1e-12);
  EXPECT_THROW(inception_score(logits, 41), std::invalid_argument);
}

}  // namespace
}  // namespace ddpm

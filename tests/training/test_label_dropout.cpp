// drop_labels: the label-dropout of classifier-free guidance training.
#include <gtest/gtest.h>

#include <cmath>

#include "training/label_dropout.h"

namespace ddpm {
namespace {

TEST(LabelDropout, ReplacesTheRequestedShareByTheNullClass) {
  auto gen = at::detail::createCPUGenerator(5);
  const int64_t n = 200000;
  auto labels = torch::arange(n, torch::kLong).remainder(10);
  auto out = drop_labels(labels, 0.1, 10, gen);
  const double share = out.eq(10).sum().item<double>() / double(n);
  // Binomial(n, 0.1): σ = √(0.1·0.9/n) ≈ 6.7e-4; 5σ leaves no room for a wrong rate.
  EXPECT_NEAR(share, 0.1, 5 * std::sqrt(0.09 / double(n)));
  auto kept = out.ne(10);
  EXPECT_TRUE(out.masked_select(kept).equal(labels.masked_select(kept))) << "the rest unchanged";
}

TEST(LabelDropout, IsReproducibleFromTheGeneratorAndFreeAtZero) {
  auto labels = torch::arange(64, torch::kLong).remainder(3);
  auto a = at::detail::createCPUGenerator(1), b = at::detail::createCPUGenerator(1);
  EXPECT_TRUE(drop_labels(labels, 0.5, 3, a).equal(drop_labels(labels, 0.5, 3, b)));
  auto c = at::detail::createCPUGenerator(1), d = at::detail::createCPUGenerator(1);
  EXPECT_TRUE(drop_labels(labels, 0.0, 3, c).equal(labels));
  // p = 0 draws nothing: the generator is where it was (an unconditional-rate run stays the same).
  EXPECT_TRUE(torch::rand({4}, c).equal(torch::rand({4}, d)));
}

}  // namespace
}  // namespace ddpm

// LossScaler (training/loss_scaler.h): scaling, unscaling, overflow skips and growth.
#include "training/loss_scaler.h"

#include <gtest/gtest.h>

#include <limits>

namespace ddpm {
namespace {

// A parameter whose gradient is `grad`.
torch::Tensor parameter_with_grad(torch::Tensor grad) {
  auto p = torch::zeros_like(grad).requires_grad_(true);
  p.mutable_grad() = grad.clone();
  return p;
}

TEST(LossScaler, DisabledIsTheIdentity) {
  LossScaler s(false);
  auto loss = torch::tensor(0.25f);
  EXPECT_TRUE(torch::equal(s.scale(loss), loss));
  auto p = parameter_with_grad(torch::tensor({std::numeric_limits<float>::infinity()}));
  EXPECT_TRUE(s.unscale({p}));  // never looks
  s.update();
  EXPECT_EQ(s.scale(), 1.0);
  EXPECT_EQ(s.skipped_steps(), 0);
}

TEST(LossScaler, BackwardOfTheScaledLossUnscalesToTheTrueGradient) {
  auto w = torch::tensor({1.5f, -2.0f, 3e-4f}).requires_grad_(true);
  auto loss = (w * w).sum() * 1e-3;
  LossScaler s(true);
  ASSERT_EQ(s.scale(), 65536.0);
  s.scale(loss).backward();
  EXPECT_NEAR(w.grad()[0].item<double>(), 2 * 1.5e-3 * 65536.0, 1e-2);
  ASSERT_TRUE(s.unscale({w}));
  // S is a power of two: the division is exact.
  auto expected = 2.0 * w.detach() * 1e-3;
  EXPECT_LT((w.grad() - expected).abs().max().item<double>(), 1e-9);
}

TEST(LossScaler, OverflowSkipsTheStepAndHalvesTheScale) {
  LossScaler s(true, LossScalerOptions{1024.0, 2.0, 0.5, 3});
  auto good = parameter_with_grad(torch::tensor({2048.0f}));
  auto bad = parameter_with_grad(torch::tensor({std::numeric_limits<float>::quiet_NaN()}));
  EXPECT_FALSE(s.unscale({good, bad}));
  s.update();
  EXPECT_EQ(s.scale(), 512.0);
  EXPECT_EQ(s.skipped_steps(), 1);
  auto inf = parameter_with_grad(torch::tensor({std::numeric_limits<float>::infinity()}));
  EXPECT_FALSE(s.unscale({inf}));
  s.update();
  EXPECT_EQ(s.scale(), 256.0);
  EXPECT_EQ(s.skipped_steps(), 2);
}

TEST(LossScaler, GrowsAfterGrowthIntervalFiniteStepsInARow) {
  LossScaler s(true, LossScalerOptions{8.0, 2.0, 0.5, 3});
  auto step = [&](float g) {
    auto p = parameter_with_grad(torch::tensor({g}));
    const bool finite = s.unscale({p});
    s.update();
    return finite;
  };
  EXPECT_TRUE(step(1));
  EXPECT_TRUE(step(1));
  EXPECT_EQ(s.scale(), 8.0);
  EXPECT_TRUE(step(1));
  EXPECT_EQ(s.scale(), 16.0);  // third finite step in a row
  EXPECT_TRUE(step(1));
  EXPECT_FALSE(step(std::numeric_limits<float>::infinity()));  // resets the count
  EXPECT_EQ(s.scale(), 8.0);
  EXPECT_TRUE(step(1));
  EXPECT_TRUE(step(1));
  EXPECT_EQ(s.scale(), 8.0);
  EXPECT_TRUE(step(1));
  EXPECT_EQ(s.scale(), 16.0);
}

TEST(LossScaler, StateRoundTripsAndBadOptionsAreRefused) {
  LossScaler a(true, LossScalerOptions{64.0, 2.0, 0.5, 5});
  auto p = parameter_with_grad(torch::tensor({1.0f}));
  a.unscale({p});
  a.update();
  auto q = parameter_with_grad(torch::tensor({std::numeric_limits<float>::infinity()}));
  a.unscale({q});
  a.update();
  LossScaler b(true, LossScalerOptions{64.0, 2.0, 0.5, 5});
  b.load_state(a.state());
  EXPECT_EQ(b.state(), a.state());
  EXPECT_EQ(b.scale(), 32.0);
  EXPECT_EQ(b.skipped_steps(), 1);
  EXPECT_THROW(LossScaler(true, LossScalerOptions{0.0, 2.0, 0.5, 5}), std::invalid_argument);
  EXPECT_THROW(LossScaler(true, LossScalerOptions{1.0, 1.0, 0.5, 5}), std::invalid_argument);
  EXPECT_THROW(b.load_state({{"scale", -1.0}, {"good_steps", 0}, {"skipped_steps", 0}}),
               std::invalid_argument);
}

}  // namespace
}  // namespace ddpm

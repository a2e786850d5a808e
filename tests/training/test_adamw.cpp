#include "training/adamw.h"

#include "test_util.h"

namespace ddpm {
namespace {

// Our AdamW against LibTorch's torch::optim::AdamW on the same quadratic, step for step.
TEST(AdamW, MatchesTorchOptimAdamW) {
  torch::manual_seed(0);
  auto target = torch::randn({5, 3});
  auto ours = torch::randn({5, 3}).requires_grad_(true);
  auto theirs = ours.detach().clone().requires_grad_(true);
  AdamW opt({{"w", ours}}, {0.01, 0.9, 0.99, 1e-8});
  torch::optim::AdamW ref(
      {theirs}, torch::optim::AdamWOptions(0.05).betas({0.9, 0.99}).eps(1e-8).weight_decay(0.01));
  for (int i = 0; i < 20; ++i) {
    opt.zero_grad();
    (ours - target).pow(3).abs().sum().backward();
    opt.step(0.05);
    ref.zero_grad();
    (theirs - target).pow(3).abs().sum().backward();
    ref.step();
  }
  EXPECT_TRUE(test::tensors_close(ours, theirs, 1e-6));
  EXPECT_EQ(opt.step_count(), 20);
}

TEST(AdamW, StateRoundTripContinuesIdentically) {
  torch::manual_seed(1);
  auto make = [] { return torch::ones({4}).requires_grad_(true); };
  auto run = [](AdamW& opt, torch::Tensor& w, int steps) {
    for (int i = 0; i < steps; ++i) {
      opt.zero_grad();
      (w * w * torch::arange(4)).sum().backward();
      opt.step(0.1);
    }
  };
  auto a = make();
  AdamW straight({{"w", a}}, {});
  run(straight, a, 6);

  auto b = make();
  AdamW first({{"w", b}}, {});
  run(first, b, 3);
  auto saved = first.state();
  auto c = b.detach().clone().requires_grad_(true);
  AdamW second({{"w", c}}, {});
  second.load_state(saved);
  run(second, c, 3);
  EXPECT_TRUE(torch::equal(a, c));
  TensorMap broken = saved;
  broken.erase("w.exp_avg");
  EXPECT_THROW(second.load_state(broken), std::runtime_error);
}

TEST(AdamW, WarmupIsLinear) {
  EXPECT_DOUBLE_EQ(warmup_lr(1.0, 0, 4), 0.25);
  EXPECT_DOUBLE_EQ(warmup_lr(1.0, 3, 4), 1.0);
  EXPECT_DOUBLE_EQ(warmup_lr(1.0, 100, 4), 1.0);
  EXPECT_DOUBLE_EQ(warmup_lr(2.0, 0, 0), 2.0);
}

}  // namespace
}  // namespace ddpm

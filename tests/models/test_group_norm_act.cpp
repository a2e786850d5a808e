// The fused GroupNorm (+ per-channel bias before it, + SiLU after it) equals LibTorch's
// add → group_norm → silu in value and in every gradient, on the fast CPU path and the fallback;
// the two-input form (a skip connection's concatenation, never made) equals the one on the
// concatenation bit for bit.
#include <gtest/gtest.h>

#include "models/group_norm_act.h"
#include "test_util.h"

namespace ddpm {
namespace {

torch::Tensor reference(const torch::Tensor& x, const torch::Tensor& bias,
                        const torch::Tensor& gamma, const torch::Tensor& beta, int64_t groups,
                        double eps, bool silu) {
  auto h = bias.defined() ? x + bias.unsqueeze(-1).unsqueeze(-1) : x;
  h = torch::group_norm(h, groups, gamma, beta, eps);
  return silu ? torch::silu(h) : h;
}

struct Case {
  int64_t n, c, h, w, groups;
  bool bias, silu;
};

TEST(GroupNormAct, MatchesLibTorchForwardAndBackward) {
  for (const Case k : {Case{4, 16, 8, 8, 8, true, true}, Case{2, 32, 5, 3, 32, false, true},
                       Case{3, 12, 7, 7, 3, true, false}, Case{1, 8, 1, 1, 2, false, false},
                       Case{2, 64, 16, 16, 32, true, true}}) {
    torch::manual_seed(k.c * 100 + k.h);
    const std::string where = fmt::format("N {} C {} {}x{} G {} bias {} silu {}", k.n, k.c, k.h,
                                          k.w, k.groups, k.bias, k.silu);
    // An offset and scale away from 0/1, so that cancellation in the variance would show.
    auto x = (3 * torch::randn({k.n, k.c, k.h, k.w}) + 5).requires_grad_();
    auto bias = k.bias ? torch::randn({k.n, k.c}).requires_grad_() : torch::Tensor();
    auto gamma = (torch::rand({k.c}) + 0.5).requires_grad_();
    auto beta = torch::randn({k.c}).requires_grad_();
    auto clone = [](const torch::Tensor& t) {
      return t.defined() ? t.detach().clone().requires_grad_() : t;
    };
    auto x2 = clone(x), bias2 = clone(bias), gamma2 = clone(gamma), beta2 = clone(beta);
    auto ours = group_norm_act(x, bias, gamma, beta, k.groups, 1e-5, k.silu);
    auto ref = reference(x2, bias2, gamma2, beta2, k.groups, 1e-5, k.silu);
    EXPECT_TRUE(test::tensors_close(ours, ref, 1e-5)) << where;
    auto upstream = torch::randn_like(ref);
    (ours * upstream).sum().backward();
    (ref * upstream).sum().backward();
    EXPECT_TRUE(test::tensors_close(x.grad(), x2.grad(), 1e-4)) << "dx " << where;
    EXPECT_TRUE(test::tensors_close(gamma.grad(), gamma2.grad(), 1e-4)) << "dγ " << where;
    EXPECT_TRUE(test::tensors_close(beta.grad(), beta2.grad(), 1e-4)) << "dβ " << where;
    if (k.bias) {
      EXPECT_TRUE(test::tensors_close(bias.grad(), bias2.grad(), 1e-4)) << "db " << where;
    }
  }
}

TEST(GroupNormAct, Float64TakesTheLibTorchPath) {
  auto x = torch::randn({2, 8, 4, 4}, torch::kFloat64);
  auto gamma = torch::rand({8}, torch::kFloat64), beta = torch::randn({8}, torch::kFloat64);
  auto ours = group_norm_act(x, {}, gamma, beta, 4, 1e-6, true);
  EXPECT_EQ(ours.scalar_type(), torch::kFloat64);
  EXPECT_TRUE(test::tensors_close(ours, reference(x, {}, gamma, beta, 4, 1e-6, true), 1e-12));
}

TEST(GroupNormAct, NonContiguousInputAndLargeValues) {
  auto x = (1000 * torch::randn({2, 4, 6, 6}) + 1e4).transpose(2, 3);
  auto gamma = torch::ones({4}), beta = torch::zeros({4});
  auto ours = group_norm_act(x, {}, gamma, beta, 2, 1e-5, false);
  EXPECT_TRUE(test::tensors_close(ours, reference(x, {}, gamma, beta, 2, 1e-5, false), 1e-4));
}

TEST(GroupNormAct, RejectsBadShapes) {
  auto x = torch::randn({2, 6, 4, 4});
  auto g = torch::ones({6}), b = torch::zeros({6});
  EXPECT_THROW(group_norm_act(x, {}, g, b, 4, 1e-5, true), c10::Error);  // 4 ∤ 6
  EXPECT_THROW(group_norm_act(x, torch::zeros({2, 5}), g, b, 3, 1e-5, true), c10::Error);
  EXPECT_THROW(group_norm_act(x, {}, torch::ones({5}), b, 3, 1e-5, true), c10::Error);
}

TEST(GroupNormAct, ConcatOfTwoInputsEqualsTheOneOnTheirConcatenation) {
  torch::manual_seed(31);
  // 16 channels in 4 groups of 4: group 2 (channels 8..11) straddles the 10 | 6 split.
  for (const auto [c1, c2, groups] :
       {std::array<int64_t, 3>{10, 6, 4}, std::array<int64_t, 3>{8, 8, 4},
        std::array<int64_t, 3>{3, 5, 2}, std::array<int64_t, 3>{1, 15, 8}}) {
    auto x1 = torch::randn({3, c1, 5, 7}), x2 = torch::randn({3, c2, 5, 7}) * 2 + 1;
    auto gamma = torch::randn({c1 + c2}), beta = torch::randn({c1 + c2});
    for (bool silu : {false, true}) {
      torch::NoGradGuard no_grad;
      const auto joined =
          group_norm_act(torch::cat({x1, x2}, 1), {}, gamma, beta, groups, 1e-5, silu);
      EXPECT_TRUE(
          torch::equal(group_norm_act_concat(x1, x2, gamma, beta, groups, 1e-5, silu), joined))
          << c1 << " | " << c2 << " in " << groups << " groups" << (silu ? ", silu" : "");
    }
  }
  // With gradients: through the concatenation, and they flow to both inputs.
  auto x1 = torch::randn({2, 6, 4, 4}).requires_grad_(), x2 = torch::randn({2, 2, 4, 4});
  x2.requires_grad_();
  group_norm_act_concat(x1, x2, torch::ones({8}), torch::zeros({8}), 4, 1e-5, true)
      .pow(2)
      .sum()
      .backward();
  EXPECT_TRUE(x1.grad().defined() && x2.grad().defined());
}

}  // namespace
}  // namespace ddpm

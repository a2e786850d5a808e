// slerp: exact endpoints, preserved norms for equal-norm inputs, the great-circle midpoint, the
// near-parallel limit and the errors.
#include "core/slerp.h"

#include "test_util.h"

namespace ddpm {
namespace {

TEST(Slerp, EndpointsAreTheInputsExactly) {
  torch::manual_seed(0);
  auto a = torch::randn({3, 2, 4, 4}), b = torch::randn({3, 2, 4, 4});
  EXPECT_TRUE(torch::equal(slerp(a, b, 0.0), a));
  EXPECT_TRUE(torch::equal(slerp(a, b, 1.0), b));
  EXPECT_EQ(slerp(a, b, 0.5).scalar_type(), torch::kFloat32);
}

TEST(Slerp, KeepsTheNormOfEqualNormRowsAndMovesAtConstantAngle) {
  torch::manual_seed(1);
  auto a = torch::randn({4, 3, 8, 8}, torch::kFloat64),
       b = torch::randn({4, 3, 8, 8}, torch::kFloat64);
  b = b / b.flatten(1).norm(2, 1).view({4, 1, 1, 1}) * a.flatten(1).norm(2, 1).view({4, 1, 1, 1});
  const auto theta = slerp_angle(a, b);
  for (double l : {0.1, 0.25, 0.5, 0.9}) {
    auto x = slerp(a, b, l);
    EXPECT_TRUE(test::tensors_close(x.flatten(1).norm(2, 1), a.flatten(1).norm(2, 1), 1e-12)) << l;
    // The angle to a grows linearly: θ(a, x(λ)) = λ θ.
    EXPECT_TRUE(test::tensors_close(slerp_angle(a, x), l * theta, 1e-9)) << l;
  }
}

TEST(Slerp, OrthogonalUnitVectorsMeetAtTheDiagonal) {
  auto a = torch::tensor({1.0, 0.0}, torch::kFloat64).view({1, 2});
  auto b = torch::tensor({0.0, 1.0}, torch::kFloat64).view({1, 2});
  auto mid = slerp(a, b, 0.5);
  EXPECT_TRUE(
      test::tensors_close(mid, torch::full({1, 2}, std::sqrt(0.5), torch::kFloat64), 1e-15));
}

TEST(Slerp, NearParallelRowsFallBackToTheLinearLimit) {
  auto a = torch::tensor({1.0, 2.0, 3.0}, torch::kFloat64).view({1, 3});
  auto b = a * (1 + 1e-12);  // θ = 0 up to rounding
  auto x = slerp(a, b, 0.3);
  EXPECT_TRUE(x.isfinite().all().item<bool>());
  EXPECT_TRUE(test::tensors_close(x, 0.7 * a + 0.3 * b, 1e-14));
  // Mixed batch: one parallel row, one ordinary.
  auto a2 = torch::cat({a, torch::tensor({{1.0, 0.0, 0.0}}, torch::kFloat64)});
  auto b2 = torch::cat({b, torch::tensor({{0.0, 1.0, 0.0}}, torch::kFloat64)});
  auto x2 = slerp(a2, b2, 0.5);
  EXPECT_TRUE(x2.isfinite().all().item<bool>());
  EXPECT_NEAR(x2[1][0].item<double>(), std::sqrt(0.5), 1e-15);
}

TEST(Slerp, BadInputsAreErrors) {
  auto a = torch::ones({2, 3}), b = torch::ones({2, 3});
  EXPECT_THROW(slerp(a, torch::ones({2, 4}), 0.5), std::invalid_argument);
  EXPECT_THROW(slerp(a, b, 1.5), std::invalid_argument);
  EXPECT_THROW(slerp(a, b, -0.1), std::invalid_argument);
  EXPECT_THROW(slerp(torch::zeros({2, 3}), b, 0.5), std::invalid_argument);
  EXPECT_THROW(slerp(a, -a, 0.5), std::invalid_argument);  // opposite: no unique arc
}

}  // namespace
}  // namespace ddpm

// first_non_finite (training/non_finite.h): names the first tensor holding an inf or NaN.
#include "training/non_finite.h"

#include <gtest/gtest.h>

#include <limits>

namespace ddpm {
namespace {

TEST(NonFinite, AllFiniteIsNullopt) {
  NamedTensors t{{"a", torch::randn({3, 4})}, {"b", torch::full({2}, 1e38f)}};
  EXPECT_EQ(first_non_finite(t), std::nullopt);
  EXPECT_EQ(first_non_finite(NamedTensors{}), std::nullopt);
}

TEST(NonFinite, NamesTheFirstInOrderForNanAndInf) {
  auto nan = torch::zeros({5});
  nan[3] = std::numeric_limits<float>::quiet_NaN();
  auto inf = torch::zeros({2, 2});
  inf[1][0] = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(first_non_finite(NamedTensors{{"ok", torch::ones({2})}, {"n", nan}, {"i", inf}}), "n");
  EXPECT_EQ(first_non_finite(NamedTensors{{"ok", torch::ones({2})}, {"i", inf}, {"n", nan}}), "i");
  // Half precision too (fp16 weights or gradients).
  EXPECT_EQ(first_non_finite(NamedTensors{{"h", inf.to(torch::kHalf)}}), "h");
  // A TensorMap is searched in its (sorted) order.
  EXPECT_EQ(first_non_finite(TensorMap{{"z", nan}, {"a", torch::ones({1})}, {"m", inf}}), "m");
}

TEST(NonFinite, SkipsUndefinedAndIntegerTensors) {
  auto nan = torch::full({1}, std::numeric_limits<double>::quiet_NaN());
  NamedTensors t{{"no grad", torch::Tensor()}, {"step", torch::tensor(int64_t(7))}, {"x", nan}};
  EXPECT_EQ(first_non_finite(t), "x");
  t.pop_back();
  EXPECT_EQ(first_non_finite(t), std::nullopt);
}

}  // namespace
}  // namespace ddpm

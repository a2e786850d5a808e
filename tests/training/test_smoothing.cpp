// tensorboard_smooth against TensorBoard's formula worked by hand, and its special cases.
#include "training/smoothing.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ddpm {
namespace {

TEST(Smoothing, IsTheDebiasedEmaOfTensorBoard) {
  // w = 0.5: last = 0.5·1 = 0.5 → 0.5/(1 − 0.5) = 1; last = 0.25 + 1.5 = 1.75 → 1.75/0.75;
  // last = 0.875 + 2.5 = 3.375 → 3.375/0.875.
  auto s = tensorboard_smooth({1, 3, 5}, 0.5);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_DOUBLE_EQ(s[0], 1.0);  // the first value is kept: no pull towards 0
  EXPECT_DOUBLE_EQ(s[1], 1.75 / 0.75);
  EXPECT_DOUBLE_EQ(s[2], 3.375 / 0.875);
}

TEST(Smoothing, WeightZeroIsTheIdentityAndConstantsStay) {
  std::vector<double> v{0.3, 0.1, 0.7, 0.2};
  EXPECT_EQ(tensorboard_smooth(v, 0.0), v);
  EXPECT_EQ(tensorboard_smooth({0.1, 0.1, 0.1}, 0.99), (std::vector<double>{0.1, 0.1, 0.1}));
  EXPECT_TRUE(tensorboard_smooth({}, 0.9).empty());
}

TEST(Smoothing, TracksTheMeanOfNoisyValues) {
  std::vector<double> v;
  for (int i = 0; i < 3000; ++i) v.push_back(i % 2 ? 1.0 : 3.0);  // mean 2
  auto s = tensorboard_smooth(v, 0.99);
  EXPECT_NEAR(s.back(), 2.0, 0.02);
}

TEST(Smoothing, NonFiniteValuesPassThroughAndAreSkipped) {
  auto s = tensorboard_smooth({1, NAN, 3}, 0.5);
  EXPECT_DOUBLE_EQ(s[0], 1.0);
  EXPECT_TRUE(std::isnan(s[1]));
  EXPECT_DOUBLE_EQ(s[2], 1.75 / 0.75);  // as if the NaN were not there
}

TEST(Smoothing, WeightOutsideTheRangeIsAnError) {
  EXPECT_THROW(tensorboard_smooth({1, 2}, 1.0), std::invalid_argument);
  EXPECT_THROW(tensorboard_smooth({1, 2}, -0.1), std::invalid_argument);
}

}  // namespace
}  // namespace ddpm

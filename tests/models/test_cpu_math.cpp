// fast_exp and sigmoid of the hand-written kernels (models/cpu_math.h): within 2e-7 relative of
// std::exp over the clamped range, saturating outside it, and NaN in → NaN out without the
// undefined float-to-integer conversion UBSan once caught (a diverged run's NaN activations).
#include <cmath>
#include <limits>

#include "models/cpu_math.h"
#include "test_util.h"

namespace ddpm {
namespace {

TEST(CpuMath, FastExpMatchesStdExpAndSaturates) {
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.173f)
    worst = std::max(worst, std::abs(double(cpu::fast_exp(x)) / std::exp(double(x)) - 1.0));
  EXPECT_LT(worst, 2e-7);
  EXPECT_GT(cpu::fast_exp(1000.0f), 1e38f);
  EXPECT_LT(cpu::fast_exp(-1000.0f), 1e-37f);
  EXPECT_FLOAT_EQ(cpu::sigmoid(0.0f), 0.5f);
}

TEST(CpuMath, NanInIsNanOut) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(cpu::fast_exp(nan)));
  EXPECT_TRUE(std::isnan(cpu::sigmoid(nan)));
  EXPECT_TRUE(std::isnan(cpu::fast_exp(-nan)));
}

}  // namespace
}  // namespace ddpm

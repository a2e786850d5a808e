#include "models/kernels/upsample_kernel.h"

#include <cstring>

#include "models/cpu_math.h"

namespace ddpm::kernels {

namespace {

using v8 = float __attribute__((vector_size(32)));
using i8 = int __attribute__((vector_size(32)));

/// out[0 .. 2w) = x[0], x[0], x[1], x[1], …
DDPM_CPU_CLONES
void widen_row(const float* x, int64_t w, float* out) {
  int64_t j = 0;
  for (; j + 8 <= w; j += 8) {
    v8 a;
    std::memcpy(&a, x + j, sizeof a);
    const v8 lo = __builtin_shuffle(a, i8{0, 0, 1, 1, 2, 2, 3, 3});
    const v8 hi = __builtin_shuffle(a, i8{4, 4, 5, 5, 6, 6, 7, 7});
    std::memcpy(out + 2 * j, &lo, sizeof lo);
    std::memcpy(out + 2 * j + 8, &hi, sizeof hi);
  }
  for (; j < w; ++j) out[2 * j] = out[2 * j + 1] = x[j];
}

}  // namespace

void upsample_nearest2x(const float* x, int64_t planes, int64_t height, int64_t width, float* y) {
  const int64_t rows = planes * height, out_width = 2 * width;
#pragma omp parallel for schedule(static) if (rows * width > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    float* out = y + 2 * r * out_width;  // rows 2i and 2i + 1 of the plane, one after the other
    widen_row(x + r * width, width, out);
    std::memcpy(out + out_width, out, size_t(out_width) * sizeof(float));
  }
}

}  // namespace ddpm::kernels

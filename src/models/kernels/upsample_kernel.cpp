#include "models/kernels/upsample_kernel.h"

#include <cstring>

#include "models/cpu_math.h"
#include "models/kernels/micro_gemm.h"

namespace ddpm::kernels {

namespace {

using micro_gemm::loadv;
using micro_gemm::storev;
using micro_gemm::v8;
using i8 = int __attribute__((vector_size(32)));

/// out[0 .. 2w) = x[0], x[0], x[1], x[1], …
DDPM_CPU_CLONES
void widen_row(const float* x, int64_t w, float* out) {
  int64_t j = 0;
  for (; j + 8 <= w; j += 8) {
    const v8 a = loadv<v8>(x + j);
    storev(out + 2 * j, v8(__builtin_shuffle(a, i8{0, 0, 1, 1, 2, 2, 3, 3})));
    storev(out + 2 * j + 8, v8(__builtin_shuffle(a, i8{4, 4, 5, 5, 6, 6, 7, 7})));
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

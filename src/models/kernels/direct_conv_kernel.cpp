#include "models/kernels/direct_conv_kernel.h"

#include <algorithm>
#include <vector>

#include "models/cpu_math.h"

namespace ddpm::kernels {

namespace {

constexpr int kRun = 16;  // outputs per accumulator: one AVX-512 vector, two AVX2 ones

/// One output row of every out-channel from the padded rows pad[(c·3 + a)·stride + 1 + x] =
/// x[c][i + a − 1][x] (zero outside the image).
DDPM_CPU_CLONES
void output_row(const float* pad, int64_t stride, const DirectConvShape& s, const float* w,
                const float* bias, float* y, int64_t plane) {
  const int64_t C = s.in_channels, W = s.width;
  for (int64_t k = 0; k < s.out_channels; ++k) {
    const float* wk = w + k * C * 9;
    for (int64_t x0 = 0; x0 < W; x0 += kRun) {
      float acc[kRun];
      const float b = bias ? bias[k] : 0.0f;
      for (int j = 0; j < kRun; ++j) acc[j] = b;
      for (int64_t c = 0; c < C; ++c)
        for (int a = 0; a < 3; ++a) {
          const float* p = pad + (c * 3 + a) * stride + x0;
          const float* wa = wk + c * 9 + a * 3;
          for (int t = 0; t < 3; ++t) {
            const float wv = wa[t];
#pragma omp simd
            for (int j = 0; j < kRun; ++j) acc[j] += wv * p[t + j];
          }
        }
      const int64_t n = std::min<int64_t>(kRun, W - x0);
      std::copy(acc, acc + n, y + k * plane + x0);
    }
  }
}

}  // namespace

void direct_conv3x3_forward(const DirectConvShape& s, const float* x, const float* w,
                            const float* bias, float* y) {
  const int64_t C = s.in_channels, H = s.height, W = s.width, plane = H * W;
  // A padded row: 1 zero, W values, zeros up to the last run's end (+ kRun of slack).
  const int64_t stride = W + 2 + kRun;
  const int64_t rows = s.batch * H;
#pragma omp parallel if (rows > 1)
  {
    std::vector<float> pad(size_t(C * 3 * stride), 0.0f);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t n = r / H, i = r % H;
      for (int64_t c = 0; c < C; ++c)
        for (int a = 0; a < 3; ++a) {
          float* dst = pad.data() + (c * 3 + a) * stride + 1;
          const int64_t row = i + a - 1;
          if (row < 0 || row >= H)
            std::fill(dst, dst + W, 0.0f);
          else
            std::copy_n(x + ((n * C + c) * H + row) * W, W, dst);
        }
      output_row(pad.data(), stride, s, w, bias, y + n * s.out_channels * plane + i * W, plane);
    }
  }
}

}  // namespace ddpm::kernels

#include "models/kernels/pointwise_conv_kernel.h"

#include <stdexcept>
#include <string>

#include "models/kernels/gemm_kernel.h"

namespace ddpm::kernels {

void pointwise_conv_forward(const PointwiseShape& s, const float* x, const float* w,
                            const float* bias, float* y) {
  pointwise_conv_forward_concat(s, x, s.in_channels, nullptr, w, bias, y);
}

void pointwise_conv_forward_concat(const PointwiseShape& s, const float* x, int64_t x_channels,
                                   const float* x2, const float* w, const float* bias, float* y) {
  const int64_t C = s.in_channels, K = s.out_channels, P = s.pixels;
  if (x_channels < 0 || x_channels > C || (x_channels < C && !x2))
    throw std::invalid_argument("pointwise_conv_forward_concat: x holds 0.." + std::to_string(C) +
                                " of the channels, and x2 the rest");
  if (s.batch == 0 || K == 0 || P == 0) return;
  const int64_t c1 = x_channels, c2 = C - x_channels;
  // Per image Y = W · [X; X2] + b over the pixels that fill whole 8-float vectors ...
  const int64_t whole = P / 8 * 8;
  StridedGemm g{s.batch, K, whole, c1, w, 0, C, 1, x, c1 * P, P, y, K * P, P};
  g.b2 = x2, g.b2_batch = c2 * P, g.k2 = c2;
  g.row_bias = bias;
  if (whole > 0) strided_gemm(g);
  if (whole == P) return;
    // ... and the last P % 8 pixels of each row, one dot product each.
#pragma omp parallel for schedule(static)
  for (int64_t bk = 0; bk < s.batch * K; ++bk) {
    const int64_t image = bk / K, k = bk % K;
    for (int64_t p = whole; p < P; ++p) {
      float sum = bias ? bias[k] : 0.0f;
      for (int64_t c = 0; c < c1; ++c) sum += w[k * C + c] * x[(image * c1 + c) * P + p];
      for (int64_t c = 0; c < c2; ++c) sum += w[k * C + c1 + c] * x2[(image * c2 + c) * P + p];
      y[bk * P + p] = sum;
    }
  }
}

}  // namespace ddpm::kernels

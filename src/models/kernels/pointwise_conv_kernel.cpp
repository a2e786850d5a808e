#include "models/kernels/pointwise_conv_kernel.h"

#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/kernels/micro_gemm.h"
#include "models/kernels/winograd_conv_kernel.h"

namespace ddpm::kernels {

namespace {

using namespace micro_gemm;

struct Pointwise {
  PointwiseShape s;
  const float* x;   // [N, x_channels, P]
  const float* x2;  // [N, C − x_channels, P], or null when x_channels = C
  int64_t x_channels;
  const float* w;
  const float* bias;
  float* y;
  const Panels* panels;  // of the pixels that fill whole 8-float vectors
  int64_t groups;        // out-channel groups of kRows
};

/// Work item `item`: out-channel group item % groups of pixel panel (item / groups) % panels of
/// image item / (groups · panels); the group index runs fastest, so a thread's consecutive items
/// share the panel of X while it is in L1. With two inputs, the second product accumulates onto
/// the first.
template <int Isa>
DDPM_WINO_INLINE void pointwise_item(const Pointwise& f, int64_t item, std::vector<float>& pad) {
  constexpr int R = kRows<Isa>;
  const int64_t C = f.s.in_channels, K = f.s.out_channels, P = f.s.pixels;
  const int64_t c1 = f.x_channels, c2 = C - c1;
  const int64_t g = item % f.groups, rest = item / f.groups;
  const int p = int(rest % f.panels->count());
  const int64_t image = rest / f.panels->count();
  const int64_t k0 = g * R, col = f.panels->start[p];
  const int rows = int(std::min<int64_t>(R, K - k0));
  const int width = 8 * f.panels->vecs[p];
  // The micro-kernel reads (and with a second input accumulates onto) R rows: the last group's
  // missing rows of W come from zeros, and its output goes through R rows of scratch.
  const float* a = f.w + k0 * C;
  float* out = f.y + (image * K + k0) * P + col;
  int64_t ldo = P;
  if (rows < R) {
    pad.assign(size_t(R * C + R * width), 0.0f);
    std::copy(a, a + rows * C, pad.begin());
    a = pad.data();
    out = pad.data() + R * C, ldo = width;
  }
  micro_any<false, Isa>(f.panels->vecs[p], a, 1, C, f.x + image * c1 * P + col, P, c1, out, ldo, R);
  if (c2 > 0)
    micro_any<true, Isa>(f.panels->vecs[p], a + c1, 1, C, f.x2 + image * c2 * P + col, P, c2, out,
                         ldo, R);
  float* y = f.y + (image * K + k0) * P + col;
  for (int r = 0; r < rows; ++r) {
    const float b = f.bias ? f.bias[k0 + r] : 0.0f;
    for (int j = 0; j < width; ++j) y[r * P + j] = out[r * ldo + j] + b;
  }
}

using PointwiseItem = void (*)(const Pointwise&, int64_t, std::vector<float>&);

DDPM_WINO_AVX512 void pointwise_item_avx512(const Pointwise& f, int64_t item,
                                            std::vector<float>& pad) {
  pointwise_item<kAvx512>(f, item, pad);
}
DDPM_WINO_AVX2 void pointwise_item_avx2(const Pointwise& f, int64_t item, std::vector<float>& pad) {
  pointwise_item<kAvx2>(f, item, pad);
}
void pointwise_item_base(const Pointwise& f, int64_t item, std::vector<float>& pad) {
  pointwise_item<kBase>(f, item, pad);
}

}  // namespace

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
  const int isa = int(winograd_isa());
  const int64_t whole = P / 8 * 8;  // pixels in whole 8-float vectors; the rest below
  const Panels panels = make_panels(whole, isa);
  const int64_t rows = isa == kAvx512 ? kRows<kAvx512> : kRows<kAvx2>;
  const Pointwise f{s, x, x2, x_channels, w, bias, y, &panels, (K + rows - 1) / rows};
  const int64_t items = s.batch * panels.count() * f.groups;
  const PointwiseItem run =
      pick<PointwiseItem>(isa, pointwise_item_base, pointwise_item_avx2, pointwise_item_avx512);
  const int64_t c1 = x_channels, c2 = C - x_channels;
#pragma omp parallel
  {
    std::vector<float> pad;
#pragma omp for schedule(static) nowait
    for (int64_t i = 0; i < items; ++i) run(f, i, pad);
      // The last P % 8 pixels of each row, one dot product each.
#pragma omp for schedule(static)
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
}

}  // namespace ddpm::kernels

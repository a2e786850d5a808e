#include "models/kernels/gemm_kernel.h"

#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "models/kernels/micro_gemm.h"
#include "models/kernels/winograd_conv_kernel.h"

namespace ddpm::kernels {

namespace {

using namespace micro_gemm;

struct Work {
  StridedGemm g;
  const Panels* panels;
  int64_t groups;  // row groups of kRows
};

/// Work item `item`: row group item % groups of column panel (item / groups) % panels of product
/// item / (groups · panels); the group runs fastest, so a thread's consecutive items share B's
/// panel while it is in cache. The micro-kernel reads (and for B's second part accumulates onto)
/// R rows: the last group's missing rows of A come from zeros, and its output goes through R
/// rows of scratch.
template <int Isa>
DDPM_WINO_INLINE void gemm_item(const Work& w, int64_t item, std::vector<float>& pad) {
  constexpr int R = kRows<Isa>;
  const StridedGemm& g = w.g;
  const int64_t group = item % w.groups, rest = item / w.groups;
  const int p = int(rest % w.panels->count());
  const int64_t product = rest / w.panels->count();
  const int64_t m0 = group * R, col = w.panels->start[p], k = g.k + g.k2;
  const int rows = int(std::min<int64_t>(R, g.m - m0));
  const int width = 8 * w.panels->vecs[p];
  const float* a = g.a + product * g.a_batch + m0 * g.a_row;
  int64_t a_row = g.a_row, a_col = g.a_col;
  float* const c = g.c + product * g.c_batch + m0 * g.ldc + col;
  float* out = c;
  int64_t ldo = g.ldc;
  if (rows < R) {
    pad.assign(size_t(R * k + R * width), 0.0f);
    for (int r = 0; r < rows; ++r)
      for (int64_t q = 0; q < k; ++q) pad[size_t(r * k + q)] = a[r * a_row + q * a_col];
    a = pad.data(), a_row = k, a_col = 1;
    out = pad.data() + R * k, ldo = width;
  }
  micro_any<false, Isa>(w.panels->vecs[p], a, a_col, a_row, g.b + product * g.b_batch + col, g.ldb,
                        g.k, out, ldo, R);
  if (g.k2 > 0)
    micro_any<true, Isa>(w.panels->vecs[p], a + g.k * a_col, a_col, a_row,
                         g.b2 + product * g.b2_batch + col, g.ldb, g.k2, out, ldo, R);
  if (out == c && !g.row_bias) return;
  for (int r = 0; r < rows; ++r) {
    if (!g.row_bias) {
      std::copy(out + r * ldo, out + r * ldo + width, c + r * g.ldc);
      continue;
    }
    const float b = g.row_bias[m0 + r];
    for (int j = 0; j < width; ++j) c[r * g.ldc + j] = out[r * ldo + j] + b;
  }
}

using GemmItem = void (*)(const Work&, int64_t, std::vector<float>&);

DDPM_WINO_AVX512 void gemm_item_avx512(const Work& w, int64_t item, std::vector<float>& pad) {
  gemm_item<kAvx512>(w, item, pad);
}
DDPM_WINO_AVX2 void gemm_item_avx2(const Work& w, int64_t item, std::vector<float>& pad) {
  gemm_item<kAvx2>(w, item, pad);
}
void gemm_item_base(const Work& w, int64_t item, std::vector<float>& pad) {
  gemm_item<kBase>(w, item, pad);
}

}  // namespace

void strided_gemm(const StridedGemm& g) {
  if (g.n % 8 != 0)
    throw std::invalid_argument("strided_gemm: n must be a multiple of 8, got " +
                                std::to_string(g.n));
  if (g.batch == 0 || g.m == 0 || g.n == 0) return;
  const int isa = int(winograd_isa());
  const Panels panels = make_panels(g.n, isa);
  const int64_t rows = isa == kAvx512 ? kRows<kAvx512> : kRows<kAvx2>;
  const Work w{g, &panels, (g.m + rows - 1) / rows};
  const int64_t items = g.batch * panels.count() * w.groups;
  const GemmItem run = pick<GemmItem>(isa, gemm_item_base, gemm_item_avx2, gemm_item_avx512);
#pragma omp parallel if (items > 1)
  {
    std::vector<float> pad;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < items; ++i) run(w, i, pad);
  }
}

}  // namespace ddpm::kernels

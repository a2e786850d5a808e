#include "models/kernels/pointwise_conv_kernel.h"

#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/kernels/gemm_kernel.h"
#include "models/kernels/micro_gemm.h"
#include "models/kernels/winograd_conv_kernel.h"

namespace ddpm::kernels {

namespace {

using namespace micro_gemm;

void check_split(const PointwiseShape& s, int64_t x_channels, const void* second, const char* who) {
  if (x_channels < 0 || x_channels > s.in_channels || (x_channels < s.in_channels && !second))
    throw std::invalid_argument(std::string(who) + ": x holds 0.." + std::to_string(s.in_channels) +
                                " of the channels, and x2 the rest");
}

/// The weight gradient's operands: dy [N, K, P] and the in-channels, the first c1 in x
/// [N, c1, P], the rest in x2.
struct WeightGrad {
  PointwiseShape s;
  const float* dy;
  const float* x;
  int64_t c1;
  const float* x2;

  /// In-channel c's row of image n.
  const float* x_row(int64_t n, int64_t c) const {
    const int64_t P = s.pixels;
    return c < c1 ? x + (n * c1 + c) * P : x2 + (n * (s.in_channels - c1) + c - c1) * P;
  }
};

template <class Vec>
DDPM_WINO_INLINE float lane_sum(const Vec& v) {
  float sum = 0.0f;
  for (size_t l = 0; l < sizeof(Vec) / sizeof(float); ++l) sum += v[l];
  return sum;
}

/// part[k][c] += Σ_(n, p) dy[n][k][p] · x[n][c][p] over the columns col0 .. col1 of the N·P
/// pixels (image n = col / P), for the RK out-channels from k0 and the RC in-channels from c0:
/// RK·RC vector accumulators, RK vectors of dy loaded per step and one of x at a time. Rows and
/// columns past the last channel are computed on the last one again and not stored.
template <class Vec, int RK, int RC>
DDPM_WINO_INLINE void weight_grad_block(const WeightGrad& g, int64_t k0, int64_t c0, int64_t col0,
                                        int64_t col1, float* part) {
  constexpr int L = sizeof(Vec) / sizeof(float);
  const int64_t K = g.s.out_channels, C = g.s.in_channels, P = g.s.pixels;
  Vec acc[RK][RC];
  float tail[RK][RC];
  for (int i = 0; i < RK; ++i)
    for (int j = 0; j < RC; ++j) acc[i][j] = Vec{}, tail[i][j] = 0.0f;
  for (int64_t col = col0; col < col1;) {
    const int64_t n = col / P, p0 = col % P, p1 = std::min(P, p0 + (col1 - col));
    const float* a[RK];
    const float* b[RC];
    for (int i = 0; i < RK; ++i) a[i] = g.dy + (n * K + std::min(k0 + i, K - 1)) * P;
    for (int j = 0; j < RC; ++j) b[j] = g.x_row(n, std::min(c0 + j, C - 1));
    int64_t p = p0;
    for (; p + L <= p1; p += L) {
      Vec av[RK];
      for (int i = 0; i < RK; ++i) av[i] = loadv<Vec>(a[i] + p);
      for (int j = 0; j < RC; ++j) {
        const Vec bv = loadv<Vec>(b[j] + p);
        for (int i = 0; i < RK; ++i) acc[i][j] += av[i] * bv;
      }
    }
    for (; p < p1; ++p)
      for (int i = 0; i < RK; ++i)
        for (int j = 0; j < RC; ++j) tail[i][j] += a[i][p] * b[j][p];
    col += p1 - p0;
  }
  const int64_t rows = std::min<int64_t>(RK, K - k0), cols = std::min<int64_t>(RC, C - c0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      part[(k0 + i) * C + c0 + j] += tail[i][j] + lane_sum(acc[i][j]);
}

/// Floats of dy and x a chunk of columns may span, so that the chunk stays in L2 while every
/// channel block goes through it (512 KiB).
constexpr int64_t kChunkFloats = 128 * 1024;

/// part += the weight gradient over the columns begin .. end, in chunks that stay in cache.
template <int Isa>
DDPM_WINO_INLINE void weight_grad_range(const WeightGrad& g, int64_t begin, int64_t end,
                                        float* part) {
  using Vec = std::conditional_t<Isa == kAvx512, v16, std::conditional_t<Isa == kAvx2, v8, v4>>;
  // AVX-512: 24 accumulators + 4 + 1 of the 32 registers; AVX2 and SSE: 12 + 3 + 1 of 16.
  constexpr int RK = Isa == kAvx512 ? 4 : 3, RC = Isa == kAvx512 ? 6 : 4;
  const int64_t K = g.s.out_channels, C = g.s.in_channels;
  const int64_t chunk = std::max<int64_t>(16, kChunkFloats / (K + C) / 16 * 16);
  for (int64_t c0 = begin; c0 < end; c0 += chunk) {
    const int64_t c1 = std::min(end, c0 + chunk);
    for (int64_t k = 0; k < K; k += RK)
      for (int64_t c = 0; c < C; c += RC) weight_grad_block<Vec, RK, RC>(g, k, c, c0, c1, part);
  }
}

using WeightGradRange = void (*)(const WeightGrad&, int64_t, int64_t, float*);

DDPM_WINO_AVX512 void weight_grad_range_avx512(const WeightGrad& g, int64_t begin, int64_t end,
                                               float* part) {
  weight_grad_range<kAvx512>(g, begin, end, part);
}
DDPM_WINO_AVX2 void weight_grad_range_avx2(const WeightGrad& g, int64_t begin, int64_t end,
                                           float* part) {
  weight_grad_range<kAvx2>(g, begin, end, part);
}
void weight_grad_range_base(const WeightGrad& g, int64_t begin, int64_t end, float* part) {
  weight_grad_range<kBase>(g, begin, end, part);
}

}  // namespace

void pointwise_conv_forward(const PointwiseShape& s, const float* x, const float* w,
                            const float* bias, float* y) {
  pointwise_conv_forward_concat(s, x, s.in_channels, nullptr, w, bias, y);
}

void pointwise_conv_forward_concat(const PointwiseShape& s, const float* x, int64_t x_channels,
                                   const float* x2, const float* w, const float* bias, float* y) {
  check_split(s, x_channels, x2, "pointwise_conv_forward_concat");
  const int64_t C = s.in_channels, K = s.out_channels, P = s.pixels;
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

void pointwise_conv_input_grad(const PointwiseShape& s, const float* dy, const float* w,
                               int64_t x_channels, float* dx, float* dx2) {
  check_split(s, x_channels, dx2, "pointwise_conv_input_grad");
  const int64_t C = s.in_channels, K = s.out_channels, P = s.pixels;
  if (s.batch == 0 || P == 0) return;
  const int64_t whole = P / 8 * 8;
  // The in-channels from `first` to `first + rows` into out [N, rows, P]: per image
  // out = wᵀ[first .., :] · dy, wᵀ read in place (A[c][k] = w[k·C + first + c]).
  auto part = [&](int64_t first, int64_t rows, float* out) {
    if (rows == 0) return;
    if (K == 0) {
      std::fill(out, out + s.batch * rows * P, 0.0f);
      return;
    }
    if (whole > 0)
      strided_gemm({s.batch, rows, whole, K, w + first, 0, 1, C, dy, K * P, P, out, rows * P, P});
    if (whole == P) return;
#pragma omp parallel for schedule(static)
    for (int64_t nc = 0; nc < s.batch * rows; ++nc) {
      const int64_t image = nc / rows, c = first + nc % rows;
      for (int64_t p = whole; p < P; ++p) {
        float sum = 0.0f;
        for (int64_t k = 0; k < K; ++k) sum += w[k * C + c] * dy[(image * K + k) * P + p];
        out[nc * P + p] = sum;
      }
    }
  };
  part(0, x_channels, dx);
  part(x_channels, C - x_channels, dx2);
}

void pointwise_conv_weight_grad(const PointwiseShape& s, const float* dy, const float* x,
                                int64_t x_channels, const float* x2, float* dw) {
  check_split(s, x_channels, x2, "pointwise_conv_weight_grad");
  const int64_t K = s.out_channels, C = s.in_channels, columns = s.batch * s.pixels;
  std::fill(dw, dw + K * C, 0.0f);
  if (K == 0 || C == 0 || columns == 0) return;
  const WeightGrad g{s, dy, x, x_channels, x2};
  const int isa = int(winograd_isa());
  const WeightGradRange run = pick<WeightGradRange>(
      isa, weight_grad_range_base, weight_grad_range_avx2, weight_grad_range_avx512);
  // Each thread its own range of columns (multiples of 16 pixels apart) and its own sums: the
  // first thread's straight into dw, the others' added to them at the end.
  const int threads = int(std::clamp<int64_t>(columns / 256, 1, omp_get_max_threads()));
  std::vector<float> parts(size_t((threads - 1) * K * C), 0.0f);
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
    const int64_t begin = columns * t / T / 16 * 16;
    const int64_t end = t + 1 == T ? columns : columns * (t + 1) / T / 16 * 16;
    run(g, begin, end, t == 0 ? dw : parts.data() + (t - 1) * K * C);
#pragma omp barrier
#pragma omp for schedule(static)
    for (int64_t i = 0; i < K * C; ++i)
      for (int64_t u = 1; u < T; ++u) dw[i] += parts[size_t((u - 1) * K * C + i)];
  }
}

}  // namespace ddpm::kernels

#include "models/kernels/winograd_conv_kernel.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "models/cpu_math.h"
#include "models/kernels/micro_gemm.h"

// Layouts (T = (m+2)² frequency points ξ, C in-channels, K out-channels, C8 and K8 rounded up to
// multiples of 8, tb tiles per block; the ξ planes of V, M and D are one cache line longer than
// their content, see plane_stride):
//
//   forward   U  [ξ][panel][C][w]      per ξ the C×K8 matrix, cut into column panels of w = 8, 16
//                                      or 24 out-channels with AVX2 (one to three 8-float
//                                      vectors), 16, 32 or 48 with AVX-512 (plus one of 8 when
//                                      K8 is an odd multiple of 8), each panel stored
//                                      in-channel-major, so that one GEMM micro-tile (4 or 8
//                                      tiles × w channels) streams through a contiguous panel
//                                      that stays in L1 while the block's tiles go by;
//             V  [ξ][tb][C8]           the block's input transform (the broadcast operand);
//             M  [ξ][tb][K8]           V·U, tile-major: the output transform reads 8 channels.
//   weight    V  [ξ][tb][C8]           as in the forward (the vector operand here);
//   gradient  D  [ξ][K8/8][tb][8]      A·dY·Aᵀ, 8 out-channels side by side (broadcast operands);
//             dU [ξ][K8][C8]           Σ over the tiles of D ⊗ V, one copy per thread (many
//                                      tiles) or one shared by all, threads taking (ξ, out-channel
//                                      block) pairs (few tiles), mapped back by Gᵀ·dU·G at the end.
//
// The GEMMs are register-blocked outer products: R broadcast scalars × up to 3 vectors, one FMA
// per accumulator per step of the reduction: with AVX2 4 rows × 3 vectors of 8 floats (12 of the
// 16 ymm registers), with AVX-512 8 rows × 3 vectors of 16 (24 of the 32 zmm registers); the
// baseline version goes 8 columns at a time on SSE
// registers. The transforms work on 8 channels at once: a tile's rows are read from 8 channel
// planes and transposed in registers (8×8), so that every vector holds one value of 8 channels.
// Blocks of tiles are the unit of work of the OpenMP threads; a block's V and M (a few hundred
// KiB for 64–128 channels) stay in L2 between the transforms and the GEMMs, and U streams
// through once per block.

namespace ddpm::kernels {

namespace {

using namespace micro_gemm;

/// The stride between the frequency points' planes of a block's V, M or D: `floats` (a multiple
/// of 512 floats, 2 KiB, for blocks of 64 tiles) plus one cache line. The transforms write and
/// read the same offset of all 36 planes one after the other; at a power-of-two stride those
/// addresses share one L1 set (12 ways for 36 lines) and evict each other, which cost F(4×4) at 32
/// channels a third of its time.
int64_t plane_stride(int64_t floats) {
  return floats + 16;
}

// ---- The transforms of Lavin & Gray (section 4.1 for F(2×2, 3×3), 4.2 for F(4×4, 3×3)) ----------
//
// Each 1-D transform maps a column of values; the 2-D one applies it down the columns, then along
// the rows (X ↦ P X Pᵀ).

template <int M>
struct Wino;

/// F(2×2, 3×3):  Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
///               Aᵀ = [1 1 1 0; 0 1 −1 −1].
template <>
struct Wino<2> {
  static constexpr int m = 2, n = 4;
  static constexpr double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  /// r = Bᵀ d
  DDPM_WINO_INLINE static void input(const v8* d, v8* r) {
    r[0] = d[0] - d[2];
    r[1] = d[1] + d[2];
    r[2] = d[2] - d[1];
    r[3] = d[1] - d[3];
  }
  /// o = Aᵀ s
  DDPM_WINO_INLINE static void output(const v8* s, v8* o) {
    o[0] = s[0] + s[1] + s[2];
    o[1] = s[1] - s[2] - s[3];
  }
  /// s = A o (the adjoint of output, for the weight gradient)
  DDPM_WINO_INLINE static void output_adjoint(const v8* o, v8* s) {
    s[0] = o[0];
    s[1] = o[0] + o[1];
    s[2] = o[0] - o[1];
    s[3] = -o[1];
  }
};

/// F(4×4, 3×3) on the points 0, ±1, ±2, ∞:
///   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1],
///   G  = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1/24 1/12 ⅙; 1/24 −1/12 ⅙; 0 0 1],
///   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1].
template <>
struct Wino<4> {
  static constexpr int m = 4, n = 6;
  static constexpr double G[6][3] = {{1.0 / 4, 0, 0},
                                     {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                     {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                     {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                     {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                     {0, 0, 1}};
  DDPM_WINO_INLINE static void input(const v8* d, v8* r) {
    const v8 d42 = d[4] - d[2], d31 = d[3] - d[1];
    r[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
    r[1] = (d[3] + d[4]) - 4.0f * (d[1] + d[2]);
    r[2] = (d[4] - d[3]) + 4.0f * (d[1] - d[2]);
    r[3] = d42 + 2.0f * d31;
    r[4] = d42 - 2.0f * d31;
    r[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
  }
  DDPM_WINO_INLINE static void output(const v8* s, v8* o) {
    const v8 a = s[1] + s[2], b = s[1] - s[2], c = s[3] + s[4], e = s[3] - s[4];
    o[0] = s[0] + a + c;
    o[1] = b + 2.0f * e;
    o[2] = a + 4.0f * c;
    o[3] = b + 8.0f * e + s[5];
  }
  DDPM_WINO_INLINE static void output_adjoint(const v8* o, v8* s) {
    const v8 ev = o[0] + o[2], od = o[1] + o[3];
    const v8 ev4 = o[0] + 4.0f * o[2], od2 = 2.0f * o[1] + 8.0f * o[3];
    s[0] = o[0];
    s[1] = ev + od;
    s[2] = ev - od;
    s[3] = ev4 + od2;
    s[4] = ev4 - od2;
    s[5] = o[3];
  }
};

/// r (n×n) = Bᵀ d B
template <int M>
DDPM_WINO_INLINE void input_2d(const v8* d, v8* r) {
  constexpr int n = M + 2;
  v8 t[n * n], col[n], res[n];
  for (int j = 0; j < n; ++j) {
    for (int a = 0; a < n; ++a) col[a] = d[a * n + j];
    Wino<M>::input(col, res);
    for (int i = 0; i < n; ++i) t[i * n + j] = res[i];
  }
  for (int i = 0; i < n; ++i) Wino<M>::input(&t[i * n], &r[i * n]);
}

/// o (m×m) = Aᵀ s A
template <int M>
DDPM_WINO_INLINE void output_2d(const v8* s, v8* o) {
  constexpr int n = M + 2;
  v8 t[M * n], col[n], res[M];
  for (int j = 0; j < n; ++j) {
    for (int a = 0; a < n; ++a) col[a] = s[a * n + j];
    Wino<M>::output(col, res);
    for (int i = 0; i < M; ++i) t[i * n + j] = res[i];
  }
  for (int i = 0; i < M; ++i) Wino<M>::output(&t[i * n], &o[i * M]);
}

/// s (n×n) = A o Aᵀ
template <int M>
DDPM_WINO_INLINE void output_adjoint_2d(const v8* o, v8* s) {
  constexpr int n = M + 2;
  v8 t[n * M], col[M], res[n];
  for (int j = 0; j < M; ++j) {
    for (int a = 0; a < M; ++a) col[a] = o[a * M + j];
    Wino<M>::output_adjoint(col, res);
    for (int i = 0; i < n; ++i) t[i * M + j] = res[i];
  }
  for (int i = 0; i < n; ++i) Wino<M>::output_adjoint(&t[i * M], &s[i * n]);
}

// ---- Tiles
// ----------------------------------------------------------------------------------------

/// The tiles of an image are numbered row-major, the images one after the other.
struct TileGrid {
  int64_t H, W, th, tw;
  int64_t per_image() const { return th * tw; }
};

struct TilePos {
  int64_t image, y, x;  // output origin (y, x) = (ty·m, tx·m)
};

DDPM_WINO_INLINE TilePos tile_pos(const TileGrid& g, int64_t t, int m) {
  const int64_t img = t / g.per_image(), r = t - img * g.per_image();
  const int64_t ty = r / g.tw;
  return {img, ty * m, (r - ty * g.tw) * m};
}

using i8 = int __attribute__((vector_size(32)));

/// r[l][j] ↦ r[j][l] (8×8), by the usual unpack / shuffle / 128-bit permute steps (GCC lowers each
/// constant shuffle to one AVX instruction).
DDPM_WINO_INLINE void transpose8(v8* r) {
  v8 t[8], u[8];
  for (int q = 0; q < 4; ++q) {
    t[2 * q] = __builtin_shuffle(r[2 * q], r[2 * q + 1], i8{0, 8, 1, 9, 4, 12, 5, 13});
    t[2 * q + 1] = __builtin_shuffle(r[2 * q], r[2 * q + 1], i8{2, 10, 3, 11, 6, 14, 7, 15});
  }
  for (int q = 0; q < 2; ++q)
    for (int h = 0; h < 2; ++h) {
      const v8 a = t[4 * q + h], b = t[4 * q + h + 2];
      u[4 * q + 2 * h] = __builtin_shuffle(a, b, i8{0, 1, 8, 9, 4, 5, 12, 13});
      u[4 * q + 2 * h + 1] = __builtin_shuffle(a, b, i8{2, 3, 10, 11, 6, 7, 14, 15});
    }
  for (int q = 0; q < 4; ++q) {
    r[q] = __builtin_shuffle(u[q], u[q + 4], i8{0, 1, 2, 3, 8, 9, 10, 11});
    r[q + 4] = __builtin_shuffle(u[q], u[q + 4], i8{4, 5, 6, 7, 12, 13, 14, 15});
  }
}

/// d[i·s + j] (i, j < s), lane l = the s×s window at (y0, x0) of plane l (`planes` + l·HW) for the
/// first `lanes` lanes, zero outside the image and in the other lanes: each row of the window is
/// read as 8 floats from each plane and the 8×8 block transposed. Near the image's edge the rows'
/// in-image parts are first copied into a zero-padded block.
template <int s>
DDPM_WINO_INLINE void gather_window(const float* planes, int lanes, const TileGrid& g, int64_t y0,
                                    int64_t x0, v8* d) {
  const int64_t H = g.H, W = g.W, HW = H * W;
  constexpr int kRead = s <= 4 ? 4 : 8;  // floats read per row and plane
  if (lanes == 8 && y0 >= 0 && x0 >= 0 && y0 + s <= H && x0 + s <= W &&
      (y0 + s - 1) * W + x0 + kRead <= HW) {
    // (Columns s..kRead−1 may run into the next row: read, transposed, and dropped.)
    const float* p = planes + y0 * W + x0;
    if constexpr (s <= 4) {
      // Two rows of 4 per plane in one vector: one transpose per pair of rows.
      for (int i = 0; i < s; i += 2) {
        v8 r[8];
        for (int l = 0; l < 8; ++l) {
          const v4 lo = loadv<v4>(p + l * HW + i * W);
          const v4 hi = i + 1 < s ? loadv<v4>(p + l * HW + (i + 1) * W) : v4{};
          r[l] = __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7);
        }
        transpose8(r);
        for (int j = 0; j < s; ++j) d[i * s + j] = r[j];
        if (i + 1 < s)
          for (int j = 0; j < s; ++j) d[(i + 1) * s + j] = r[4 + j];
      }
      return;
    }
    for (int i = 0; i < s; ++i) {
      v8 r[8];
      for (int l = 0; l < 8; ++l) r[l] = load8(p + l * HW + i * W);
      transpose8(r);
      for (int j = 0; j < s; ++j) d[i * s + j] = r[j];
    }
    return;
  }
  alignas(32) float buf[8][s][8] = {};
  // A fixed count of conditional copies, not a loop over the columns inside the image: GCC turns
  // that into a call to memcpy per row (5 % of fashion-mnist's sampling time, where most tiles
  // of the 4×4 to 16×16 maps touch an edge).
  for (int l = 0; l < lanes; ++l)
    for (int i = 0; i < s; ++i) {
      const int64_t y = y0 + i;
      if (y < 0 || y >= H) continue;
      const float* src = planes + l * HW + y * W;
      for (int j = 0; j < s; ++j) {
        const int64_t x = x0 + j;
        if (x >= 0 && x < W) buf[l][i][j] = src[x];
      }
    }
  for (int i = 0; i < s; ++i) {
    v8 r[8];
    for (int l = 0; l < 8; ++l) r[l] = load8(buf[l][i]);
    transpose8(r);
    for (int j = 0; j < s; ++j) d[i * s + j] = r[j];
  }
}

/// Input transform of one tile for 8 channels: v[ξ·ld] = (Bᵀ d B)[ξ], lane l for channel c8 + l.
template <int M>
DDPM_WINO_INLINE void input_tile(const float* x, int64_t C, int64_t c8, const TileGrid& g,
                                 const TilePos& pos, float* v, int64_t ld) {
  constexpr int n = M + 2, T = n * n;
  v8 d[T], r[T];
  gather_window<n>(x + (pos.image * C + c8) * g.H * g.W, int(std::min<int64_t>(8, C - c8)), g,
                   pos.y - 1, pos.x - 1, d);
  input_2d<M>(d, r);
  for (int xi = 0; xi < T; ++xi) store8(v + xi * ld, r[xi]);
}

// ---- Forward ---------------------------------------------------------------------------------

struct Forward {
  const float* x;
  const float* u;
  const float* bias;      // K8 floats (zero padded)
  const float* residual;  // added to y when not null (y's layout)
  float* y;
  int64_t C, C8, K, K8;
  TileGrid grid;
  int64_t tiles, tb;       // tiles in all, per block
  int64_t vplane, mplane;  // floats from one frequency point's plane of V, M to the next
  int64_t k_chunks;        // work items per block (each a range of panels)
  const Panels* panels;
};

/// Work item `item`: block item / k_chunks of tiles, panels of chunk item % k_chunks: input
/// transform into v, one GEMM per ξ into mo, output transform into y.
template <int M, int Isa>
DDPM_WINO_INLINE void forward_item(const Forward& f, int64_t item, float* v, float* mo) {
  constexpr int n = M + 2, T = n * n;
  const int64_t block = item / f.k_chunks, chunk = item % f.k_chunks;
  const int np = f.panels->count();
  const int p0 = int(np * chunk / f.k_chunks), p1 = int(np * (chunk + 1) / f.k_chunks);
  const int64_t t0 = block * f.tb, nt = std::min(f.tb, f.tiles - t0);
  const int64_t C = f.C, C8 = f.C8, K8 = f.K8;

  // V[ξ] (tiles × C8).
  for (int64_t t = 0; t < nt; ++t) {
    const TilePos pos = tile_pos(f.grid, t0 + t, M);
    for (int64_t c8 = 0; c8 < C8; c8 += 8)
      input_tile<M>(f.x, C, c8, f.grid, pos, v + t * C8 + c8, f.vplane);
  }

  // M[ξ] = V[ξ] · U[ξ], panel by panel (the panel stays in L1 while the tiles stream by).
  for (int xi = 0; xi < T; ++xi) {
    for (int p = p0; p < p1; ++p) {
      const int64_t k0 = f.panels->start[p];
      const float* up = f.u + xi * C * K8 + C * k0;
      for (int64_t t = 0; t < nt; t += kRows<Isa>) {
        const int rows = int(std::min<int64_t>(kRows<Isa>, nt - t));
        micro_any<false, Isa>(f.panels->vecs[p], v + xi * f.vplane + t * C8, 1, C8, up,
                              8 * f.panels->vecs[p], C, mo + xi * f.mplane + t * K8 + k0, K8, rows);
      }
    }
  }

  // Output transform, 8 channels per vector, + bias (+ residual), cut at the image's edge.
  const int64_t kb = f.panels->start[p0], ke = f.panels->end(p1 - 1);
  const int64_t H = f.grid.H, W = f.grid.W;
  for (int64_t t = 0; t < nt; ++t) {
    const TilePos pos = tile_pos(f.grid, t0 + t, M);
    const int mi = int(std::min<int64_t>(M, H - pos.y)), mj = int(std::min<int64_t>(M, W - pos.x));
    for (int64_t k8 = kb; k8 < ke; k8 += 8) {
      v8 s[T], o[M * M];
      for (int xi = 0; xi < T; ++xi) s[xi] = load8(mo + xi * f.mplane + t * K8 + k8);
      output_2d<M>(s, o);
      const v8 b = load8(f.bias + k8);
      const int lanes = int(std::min<int64_t>(8, f.K - k8));
      const int64_t at = ((pos.image * f.K + k8) * H + pos.y) * W + pos.x;
      float* yp = f.y + at;
      const float* rp = f.residual ? f.residual + at : nullptr;
      if (lanes == 8 && mi == M && mj == M) {
        // Whole tile, 8 channels: transpose 8 of its (row-major) values at a time, 8 / M rows,
        // to 8 channels' rows of M floats.
        for (int e0 = 0; e0 < M * M; e0 += 8) {
          v8 r[8];
          for (int q = 0; q < 8; ++q) r[q] = e0 + q < M * M ? o[e0 + q] + b : v8{};
          transpose8(r);
          for (int l = 0; l < 8; ++l)
            for (int q = 0; q < 8 && e0 + q < M * M; q += M) {
              const int64_t row = l * H * W + ((e0 + q) / M) * W;
              const float* values = reinterpret_cast<float*>(&r[l]) + q;
              if (!rp) {
                std::memcpy(yp + row, values, M * sizeof(float));
                continue;
              }
              if constexpr (M == 4) {
                storev(yp + row, loadv<v4>(values) + loadv<v4>(rp + row));
              } else {
                for (int j = 0; j < M; ++j) yp[row + j] = values[j] + rp[row + j];
              }
            }
        }
        continue;
      }
      alignas(32) float ob[M * M * 8];
      for (int e = 0; e < M * M; ++e) store8(ob + e * 8, o[e] + b);
      for (int l = 0; l < lanes; ++l)
        for (int i = 0; i < mi; ++i)
          for (int j = 0; j < mj; ++j) {
            const int64_t e = l * H * W + i * W + j;
            yp[e] = rp ? ob[(i * M + j) * 8 + l] + rp[e] : ob[(i * M + j) * 8 + l];
          }
    }
  }
}

// The work functions for each instruction set (micro_gemm.h: DDPM_WINO_AVX512, DDPM_WINO_AVX2),
// picked by the instruction set in force when a call starts.

WinogradIsa cpu_isa() {
  static const WinogradIsa best = [] {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
      return WinogradIsa::baseline;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
      return WinogradIsa::avx512;
    return WinogradIsa::avx2;
  }();
  return best;
}

std::atomic<WinogradIsa> g_isa{cpu_isa()};

using ForwardItem = void (*)(const Forward&, int64_t, float*, float*);

template <int M>
DDPM_WINO_AVX512 void forward_item_avx512(const Forward& f, int64_t item, float* v, float* mo) {
  forward_item<M, kAvx512>(f, item, v, mo);
}
template <int M>
DDPM_WINO_AVX2 void forward_item_avx2(const Forward& f, int64_t item, float* v, float* mo) {
  forward_item<M, kAvx2>(f, item, v, mo);
}
template <int M>
void forward_item_base(const Forward& f, int64_t item, float* v, float* mo) {
  forward_item<M, kBase>(f, item, v, mo);
}

/// Per-thread scratch that only grows (the forward runs many times with the same shapes).
float* scratch(std::vector<float>& buf, int64_t floats) {
  if (int64_t(buf.size()) < floats) buf.assign(size_t(floats), 0.0f);
  return buf.data();
}

template <int M>
void forward(const Conv3x3Shape& s, const float* x, const float* u, const float* bias, float* y,
             const float* residual) {
  constexpr int T = (M + 2) * (M + 2);
  const int64_t C = s.in_channels, C8 = round_up(C, 8), K = s.out_channels, K8 = round_up(K, 8);
  const TileGrid grid{s.height, s.width, (s.height + M - 1) / M, (s.width + M - 1) / M};
  const int64_t tiles = s.batch * grid.per_image();
  if (tiles == 0 || K == 0) return;
  const int isa = int(g_isa.load());
  const Panels panels = make_panels(K8, isa);
  std::vector<float> b(size_t(K8), 0.0f);
  if (bias) std::copy(bias, bias + K, b.begin());

  // Tiles per block: enough blocks for every thread, at most kMaxTiles (the block's V and M then
  // stay within a few hundred KiB of L2 for 64–128 channels; U streams once per block).
  const int threads = omp_get_max_threads();
  constexpr int64_t max_tiles = 64;
  const int64_t tb =
      std::clamp<int64_t>(round_up((tiles + threads - 1) / threads, 8), 8, max_tiles);
  const int64_t blocks = (tiles + tb - 1) / tb;
  // Too few blocks for the threads: split the out-channel panels too (each item redoes the input
  // transform of its block, cheap next to its share of the GEMM).
  const int64_t k_chunks =
      blocks >= threads ? 1 : std::min<int64_t>(panels.count(), (threads + blocks - 1) / blocks);
  const int64_t vplane = plane_stride(tb * C8), mplane = plane_stride(tb * K8);
  const Forward f{x,  u,    b.data(), residual, y,      C,      C8,       K,
                  K8, grid, tiles,    tb,       vplane, mplane, k_chunks, &panels};
  const int64_t items = blocks * k_chunks;
  const ForwardItem run =
      pick<ForwardItem>(isa, forward_item_base<M>, forward_item_avx2<M>, forward_item_avx512<M>);
  const int64_t in_floats = T * vplane, out_floats = T * mplane;

#pragma omp parallel if (items > 1)
  {
    static thread_local std::vector<float> vbuf, mbuf;
    float* v = scratch(vbuf, in_floats);
    float* mo = scratch(mbuf, out_floats);
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < items; ++i) {
      run(f, i, v, mo);
    }
  }
}

// ---- Weights ---------------------------------------------------------------------------------

/// Where tap (a, b) of filter (k, c) is: w[k·sk + c·sc + base + a·sa + b·sb] (the forward's
/// [K, C, 3, 3] weights, or the input gradient's view of them flipped with in/out swapped).
struct FilterLayout {
  int64_t sk, sc, base, sa, sb;
};

/// U = G g Gᵀ of filters k8 .. k8 + 7 (zero beyond K) for in-channel c, all of a panel's 8-float
/// group, into `panel_group` + ξ·plane + c·width: eight filters side by side in each vector.
template <int M>
DDPM_WINO_INLINE void transform_filter_group(const float* w, const FilterLayout& f, int64_t C,
                                             int64_t K, int64_t k8, int64_t width, int64_t plane,
                                             float* panel_group) {
  // In double, rounded once to float at the end (as exact as U can be stored): a sampling chain
  // of 50 steps amplifies even float-ulp differences of U.
  using d8 = double __attribute__((vector_size(64)));
  constexpr int n = M + 2;
  const auto& G = Wino<M>::G;
  // A chunk of in-channels at a time: the 8 filters' taps gathered side by side, tile[(c·9 +
  // tap)·8 + l], each filter's read in memory order, so that a tap of 8 filters loads as one
  // vector; the chunk's transforms into out[ξ][c], then stored plane by plane. Stored as they
  // came, every in-channel wrote to all n² planes (a page apart for 96 channels): the stores'
  // TLB misses made the transform cost more than the convolution it was for (96→96 at 4×4,
  // F(4×4): 0.2 ms against 0.09).
  constexpr int64_t kChunk = 16;
  alignas(64) float tile[kChunk * 9 * 8];
  alignas(64) float out[n * n][kChunk * 8];
  for (int64_t c0 = 0; c0 < C; c0 += kChunk) {
    const int64_t chunk = std::min(kChunk, C - c0);
    for (int l = 0; l < 8; ++l) {
      const int64_t k = k8 + l;
      const float* wk = w + k * f.sk + f.base + c0 * f.sc;
      for (int64_t c = 0; c < chunk; ++c)
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b)
            tile[(c * 9 + a * 3 + b) * 8 + l] = k < K ? wk[c * f.sc + a * f.sa + b * f.sb] : 0.0f;
    }
    for (int64_t c = 0; c < chunk; ++c) {
      d8 g[3][3];
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b)
          g[a][b] = __builtin_convertvector(load8(tile + (c * 9 + a * 3 + b) * 8), d8);
      d8 t[n][3];  // G g
      for (int i = 0; i < n; ++i)
        for (int b = 0; b < 3; ++b)
          t[i][b] = G[i][0] * g[0][b] + G[i][1] * g[1][b] + G[i][2] * g[2][b];
      for (int i = 0; i < n; ++i)  // (G g) Gᵀ
        for (int j = 0; j < n; ++j)
          store8(out[i * n + j] + c * 8,
                 __builtin_convertvector(t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2],
                                         v8));
    }
    for (int xi = 0; xi < n * n; ++xi)
      for (int64_t c = 0; c < chunk; ++c)
        store8(panel_group + xi * plane + (c0 + c) * width, load8(out[xi] + c * 8));
  }
}

using FilterGroup = void (*)(const float*, const FilterLayout&, int64_t, int64_t, int64_t, int64_t,
                             int64_t, float*);

template <int M>
DDPM_WINO_AVX512 void transform_filter_group_avx512(const float* w, const FilterLayout& f,
                                                    int64_t C, int64_t K, int64_t k8, int64_t width,
                                                    int64_t plane, float* out) {
  transform_filter_group<M>(w, f, C, K, k8, width, plane, out);
}
template <int M>
DDPM_WINO_AVX2 void transform_filter_group_avx2(const float* w, const FilterLayout& f, int64_t C,
                                                int64_t K, int64_t k8, int64_t width, int64_t plane,
                                                float* out) {
  transform_filter_group<M>(w, f, C, K, k8, width, plane, out);
}
template <int M>
void transform_filter_group_base(const float* w, const FilterLayout& f, int64_t C, int64_t K,
                                 int64_t k8, int64_t width, int64_t plane, float* out) {
  transform_filter_group<M>(w, f, C, K, k8, width, plane, out);
}

/// U for the filters of `f` (C in, K out of the convolution the result is for), eight filters per
/// vector: every float of U, padding columns included, is written once and in order
/// within each ξ plane.
template <int M>
void transform_weights(const float* w, const FilterLayout& f, int64_t C, int64_t K, float* u) {
  const int isa = int(g_isa.load());
  const int64_t K8 = round_up(K, 8);
  const Panels panels = make_panels(K8, isa);
  const FilterGroup run =
      pick<FilterGroup>(isa, transform_filter_group_base<M>, transform_filter_group_avx2<M>,
                        transform_filter_group_avx512<M>);
#pragma omp parallel for schedule(static)
  for (int64_t group = 0; group < K8 / 8; ++group) {
    const int64_t k8 = 8 * group;
    int p = 0;
    while (panels.end(p) <= k8) ++p;
    const int64_t k0 = panels.start[p];
    run(w, f, C, K, k8, 8 * panels.vecs[p], C * K8, u + C * k0 + (k8 - k0));
  }
}

// ---- Weight gradient
// -------------------------------------------------------------------------------

struct WeightGrad {
  const float* x;
  const float* dy;
  int64_t C, K, C8, K8;
  TileGrid grid;
  int64_t tiles, tb;
  const Panels* panels;  // over C8
};

/// Block `block` of tiles: V [ξ][tb][C8] and D = A·dY·Aᵀ [ξ][K8/8][tb][8] into v, d, then
/// du[ξ] (K8 × C8) += D[ξ] (K8 × tiles) · V[ξ] (tiles × C8).
template <int M, int Isa>
DDPM_WINO_INLINE void weight_grad_block(const WeightGrad& f, int64_t block, float* v, float* d,
                                        float* du) {
  constexpr int n = M + 2, T = n * n;
  const int64_t t0 = block * f.tb, nt = std::min(f.tb, f.tiles - t0), tb = f.tb;
  const int64_t C = f.C, K = f.K, C8 = f.C8, K8 = f.K8, H = f.grid.H, W = f.grid.W;
  const int64_t vplane = plane_stride(tb * C8), dplane = plane_stride(tb * K8);

  for (int64_t t = 0; t < nt; ++t) {
    const TilePos pos = tile_pos(f.grid, t0 + t, M);
    for (int64_t c8 = 0; c8 < C8; c8 += 8)
      input_tile<M>(f.x, C, c8, f.grid, pos, v + t * C8 + c8, vplane);
    // dY's tile (outputs beyond the image's edge count as zero), 8 out-channels per vector.
    for (int64_t k8 = 0; k8 < K8; k8 += 8) {
      v8 o[M * M], e[T];
      gather_window<M>(f.dy + (pos.image * K + k8) * H * W, int(std::min<int64_t>(8, K - k8)),
                       f.grid, pos.y, pos.x, o);
      output_adjoint_2d<M>(o, e);
      for (int xi = 0; xi < T; ++xi) store8(d + xi * dplane + (k8 / 8 * tb + t) * 8, e[xi]);
    }
  }

  for (int xi = 0; xi < T; ++xi) {
    for (int p = 0; p < f.panels->count(); ++p) {
      const int64_t c0 = f.panels->start[p];
      for (int64_t k = 0; k < K8; k += kRows<Isa>) {
        const float* dp = d + xi * dplane + k / 8 * tb * 8 + k % 8;
        micro_any<true, Isa>(f.panels->vecs[p], dp, 8, 1, v + xi * vplane + c0, C8, nt,
                             du + (xi * K8 + k) * C8 + c0, C8, kRows<Isa>);
      }
    }
  }
}

using WeightGradBlock = void (*)(const WeightGrad&, int64_t, float*, float*, float*);

template <int M>
DDPM_WINO_AVX512 void weight_grad_block_avx512(const WeightGrad& f, int64_t block, float* v,
                                               float* d, float* du) {
  weight_grad_block<M, kAvx512>(f, block, v, d, du);
}
template <int M>
DDPM_WINO_AVX2 void weight_grad_block_avx2(const WeightGrad& f, int64_t block, float* v, float* d,
                                           float* du) {
  weight_grad_block<M, kAvx2>(f, block, v, d, du);
}
template <int M>
void weight_grad_block_base(const WeightGrad& f, int64_t block, float* v, float* d, float* du) {
  weight_grad_block<M, kBase>(f, block, v, d, du);
}

// The scheme for few tiles (small images, many channels): the tiles go in chunks of up to tc, and
// for each chunk every thread first transforms a share of (tile, 8-channel group) pairs into the
// chunk's V [ξ][tc][C8] and D [ξ][K8/8][tc][8], then takes (ξ, out-channel block) pairs and adds
// D[ξ] (block × tiles) · V[ξ] (tiles × C8) into the one shared dU: disjoint writes, the tiles the
// GEMM's reduction dimension, no per-thread copies and no reduction.

/// Chunk item `item` of the (tile, group) pairs: group g < C8/8 is the input transform of
/// channels 8g.., the others dY's transform of out-channels 8(g − C8/8)...
template <int M>
DDPM_WINO_INLINE void weight_grad_transform_item(const WeightGrad& f, int64_t t0, int64_t tc,
                                                 int64_t item, float* v, float* d) {
  constexpr int n = M + 2, T = n * n;
  const int64_t groups = f.C8 / 8 + f.K8 / 8;
  const int64_t t = item / groups, g = item % groups;
  const int64_t C = f.C, K = f.K, C8 = f.C8, K8 = f.K8, H = f.grid.H, W = f.grid.W;
  const TilePos pos = tile_pos(f.grid, t0 + t, M);
  if (g < C8 / 8) {
    input_tile<M>(f.x, C, 8 * g, f.grid, pos, v + t * C8 + 8 * g, plane_stride(tc * C8));
    return;
  }
  const int64_t k8 = 8 * (g - C8 / 8);
  v8 o[M * M], e[T];
  gather_window<M>(f.dy + (pos.image * K + k8) * H * W, int(std::min<int64_t>(8, K - k8)), f.grid,
                   pos.y, pos.x, o);
  output_adjoint_2d<M>(o, e);
  const int64_t dplane = plane_stride(tc * K8);
  for (int xi = 0; xi < T; ++xi) store8(d + xi * dplane + (k8 / 8 * tc + t) * 8, e[xi]);
}

/// GEMM item `item` = (ξ, block of kb out-channels): du[ξ][block] (+)= D[ξ][block] · V[ξ] over the
/// chunk's nt tiles (tc the chunk's stride), panel by panel of V's columns.
template <int M, int Isa, bool accumulate>
DDPM_WINO_INLINE void weight_grad_gemm_item(const WeightGrad& f, int64_t tc, int64_t nt, int64_t kb,
                                            int64_t item, const float* v, const float* d,
                                            float* du) {
  const int64_t C8 = f.C8, K8 = f.K8, kblocks = (K8 + kb - 1) / kb;
  const int64_t xi = item / kblocks, k0 = (item % kblocks) * kb, k1 = std::min(K8, k0 + kb);
  const int64_t vplane = plane_stride(tc * C8), dplane = plane_stride(tc * K8);
  for (int p = 0; p < f.panels->count(); ++p) {
    const int64_t c0 = f.panels->start[p];
    for (int64_t k = k0; k < k1; k += kRows<Isa>) {
      const float* dp = d + xi * dplane + k / 8 * tc * 8 + k % 8;
      micro_any<accumulate, Isa>(f.panels->vecs[p], dp, 8, 1, v + xi * vplane + c0, C8, nt,
                                 du + (xi * K8 + k) * C8 + c0, C8, kRows<Isa>);
    }
  }
}

struct WeightGradShared {
  void (*transform)(const WeightGrad&, int64_t, int64_t, int64_t, float*, float*);
  void (*gemm)(const WeightGrad&, int64_t, int64_t, int64_t, int64_t, const float*, const float*,
               float*);
  void (*gemm_first)(const WeightGrad&, int64_t, int64_t, int64_t, int64_t, const float*,
                     const float*, float*);
};

template <int M>
DDPM_WINO_AVX512 void weight_grad_transform_avx512(const WeightGrad& f, int64_t t0, int64_t tc,
                                                   int64_t item, float* v, float* d) {
  weight_grad_transform_item<M>(f, t0, tc, item, v, d);
}
template <int M>
DDPM_WINO_AVX2 void weight_grad_transform_avx2(const WeightGrad& f, int64_t t0, int64_t tc,
                                               int64_t item, float* v, float* d) {
  weight_grad_transform_item<M>(f, t0, tc, item, v, d);
}
template <int M>
void weight_grad_transform_base(const WeightGrad& f, int64_t t0, int64_t tc, int64_t item, float* v,
                                float* d) {
  weight_grad_transform_item<M>(f, t0, tc, item, v, d);
}
template <int M, bool accumulate>
DDPM_WINO_AVX512 void weight_grad_gemm_avx512(const WeightGrad& f, int64_t tc, int64_t nt,
                                              int64_t kb, int64_t item, const float* v,
                                              const float* d, float* du) {
  weight_grad_gemm_item<M, kAvx512, accumulate>(f, tc, nt, kb, item, v, d, du);
}
template <int M, bool accumulate>
DDPM_WINO_AVX2 void weight_grad_gemm_avx2(const WeightGrad& f, int64_t tc, int64_t nt, int64_t kb,
                                          int64_t item, const float* v, const float* d, float* du) {
  weight_grad_gemm_item<M, kAvx2, accumulate>(f, tc, nt, kb, item, v, d, du);
}
template <int M, bool accumulate>
void weight_grad_gemm_base(const WeightGrad& f, int64_t tc, int64_t nt, int64_t kb, int64_t item,
                           const float* v, const float* d, float* du) {
  weight_grad_gemm_item<M, kBase, accumulate>(f, tc, nt, kb, item, v, d, du);
}

/// dw[k] (C × 3 × 3) = Gᵀ·dU[·][k][c]·G for one out-channel, dU summed over the `parts` per-thread
/// copies (stride part_floats): separable, vectorised over the in-channels.
template <int M>
DDPM_WINO_INLINE void weight_grad_epilogue(const float* du, int parts, int64_t part_floats,
                                           int64_t k, int64_t C, int64_t K8, int64_t C8, float* row,
                                           float* tmp, float* out, float* dw) {
  constexpr int n = M + 2;
  const auto& G = Wino<M>::G;
  std::fill(out, out + 9 * C8, 0.0f);
  for (int i = 0; i < n; ++i) {
    std::fill(tmp, tmp + 3 * C8, 0.0f);
    for (int j = 0; j < n; ++j) {
      const float* src = du + ((i * n + j) * K8 + k) * C8;
      for (int64_t c = 0; c < C8; ++c) row[c] = src[c];
      for (int p = 1; p < parts; ++p)
        for (int64_t c = 0; c < C8; ++c) row[c] += src[p * part_floats + c];
      for (int b = 0; b < 3; ++b) {
        const float g = float(G[j][b]);
        if (g == 0) continue;
        for (int64_t c = 0; c < C8; ++c) tmp[b * C8 + c] += g * row[c];
      }
    }
    for (int a = 0; a < 3; ++a) {
      const float g = float(G[i][a]);
      if (g == 0) continue;
      for (int b = 0; b < 3; ++b)
        for (int64_t c = 0; c < C8; ++c) out[(a * 3 + b) * C8 + c] += g * tmp[b * C8 + c];
    }
  }
  for (int64_t c = 0; c < C; ++c)
    for (int ab = 0; ab < 9; ++ab) dw[(k * C + c) * 9 + ab] = out[ab * C8 + c];
}

DDPM_CPU_CLONES
void weight_grad_epilogue_f2(const float* du, int parts, int64_t part_floats, int64_t k, int64_t C,
                             int64_t K8, int64_t C8, float* row, float* tmp, float* out,
                             float* dw) {
  weight_grad_epilogue<2>(du, parts, part_floats, k, C, K8, C8, row, tmp, out, dw);
}
DDPM_CPU_CLONES
void weight_grad_epilogue_f4(const float* du, int parts, int64_t part_floats, int64_t k, int64_t C,
                             int64_t K8, int64_t C8, float* row, float* tmp, float* out,
                             float* dw) {
  weight_grad_epilogue<4>(du, parts, part_floats, k, C, K8, C8, row, tmp, out, dw);
}

template <int M>
void weight_grad(const Conv3x3Shape& s, const float* x, const float* dy, float* dw) {
  constexpr int n = M + 2, T = n * n;
  const int64_t C = s.in_channels, K = s.out_channels;
  const int64_t C8 = round_up(C, 8), K8 = round_up(K, 8);
  const TileGrid grid{s.height, s.width, (s.height + M - 1) / M, (s.width + M - 1) / M};
  const int64_t tiles = s.batch * grid.per_image();
  if (C == 0 || K == 0) return;
  if (tiles == 0) {
    std::fill(dw, dw + K * C * 9, 0.0f);
    return;
  }
  const int isa = int(g_isa.load());
  const Panels panels = make_panels(C8, isa);
  const int threads = omp_get_max_threads();
  const int64_t du_floats = T * K8 * C8;
  constexpr int64_t max_tiles = 128;
  const int64_t tb = std::clamp<int64_t>((tiles + threads - 1) / threads, 1, max_tiles);
  const int64_t blocks = (tiles + tb - 1) / tb;
  // Two schemes. With many tiles per thread, blocks of tiles per thread, each thread summing into
  // its own copy of dU (the block's V and D stay in L2 between the transforms and the GEMMs; the
  // copies' clearing and reduction are small next to ≥ 1024 tiles of GEMM). Otherwise (small
  // images, many channels, where the copies and their reduction dominate) one shared dU, the
  // threads splitting each chunk of tiles' transforms and then the (ξ, out-channel block) GEMMs.
  const bool shared = tiles < 1024 * int64_t(threads);
  const WeightGrad f{x, dy, C, K, C8, K8, grid, tiles, shared ? 0 : tb, &panels};
  int parts = 1;
  std::vector<float> du_parts;
  float* du;
  if (shared) {
    // Scratch kept between calls (fresh multi-MiB allocations cost page faults every call); the
    // first chunk's GEMM stores rather than adds, so neither buffer needs clearing.
    static thread_local std::vector<float> du_buf, vd_buf;
    du = scratch(du_buf, du_floats);
    const WeightGradShared w{
        pick<decltype(WeightGradShared::transform)>(isa, weight_grad_transform_base<M>,
                                                    weight_grad_transform_avx2<M>,
                                                    weight_grad_transform_avx512<M>),
        pick<decltype(WeightGradShared::gemm)>(isa, weight_grad_gemm_base<M, true>,
                                               weight_grad_gemm_avx2<M, true>,
                                               weight_grad_gemm_avx512<M, true>),
        pick<decltype(WeightGradShared::gemm)>(isa, weight_grad_gemm_base<M, false>,
                                               weight_grad_gemm_avx2<M, false>,
                                               weight_grad_gemm_avx512<M, false>)};
    // Chunks of tiles: the chunk's V and D (T·tc·(C8 + K8) floats) about as large as dU, within
    // 256K–4M floats: each chunk reads and writes dU once, and its V and D go out to memory and
    // back unless they stay in cache.
    const int64_t vd_target = std::clamp<int64_t>(du_floats, int64_t(1) << 18, int64_t(1) << 22);
    const int64_t tc = std::clamp<int64_t>(vd_target / (T * (C8 + K8)), 64, 1024);
    const int64_t chunk_tiles = std::min(tiles, tc);
    float* v =
        scratch(vd_buf, T * (plane_stride(chunk_tiles * C8) + plane_stride(chunk_tiles * K8)));
    float* d = v + T * plane_stride(chunk_tiles * C8);
    constexpr int64_t kb = 32;
    const int64_t gemm_items = T * ((K8 + kb - 1) / kb);
    const int64_t groups = C8 / 8 + K8 / 8;
#pragma omp parallel
    for (int64_t t0 = 0; t0 < tiles; t0 += chunk_tiles) {
      const int64_t nt = std::min(chunk_tiles, tiles - t0);
#pragma omp for schedule(static)
      for (int64_t i = 0; i < nt * groups; ++i) w.transform(f, t0, chunk_tiles, i, v, d);
#pragma omp for schedule(static)
      for (int64_t i = 0; i < gemm_items; ++i)
        (t0 == 0 ? w.gemm_first : w.gemm)(f, chunk_tiles, nt, kb, i, v, d, du);
    }
  } else {
    // Each block reads and writes its thread's dU once per ξ: long blocks amortise that, while
    // the block's V and D (T·tb·(C8 + K8) floats) are read one ξ at a time.
    parts = int(std::min<int64_t>(threads, blocks));
    du_parts.resize(size_t(parts * du_floats));
    du = du_parts.data();
    const WeightGradBlock run = pick<WeightGradBlock>(
        isa, weight_grad_block_base<M>, weight_grad_block_avx2<M>, weight_grad_block_avx512<M>);
#pragma omp parallel num_threads(parts) if (parts > 1)
    {
      static thread_local std::vector<float> vbuf, dbuf;
      float* v = scratch(vbuf, T * plane_stride(tb * C8));
      float* d = scratch(dbuf, T * plane_stride(tb * K8));
      float* mine = du + omp_get_thread_num() * du_floats;
      std::fill(mine, mine + du_floats, 0.0f);
#pragma omp for schedule(dynamic, 1)
      for (int64_t b = 0; b < blocks; ++b) {
        run(f, b, v, d, mine);
      }
    }
  }

#pragma omp parallel if (K > 1)
  {
    std::vector<float> scratch_rows(size_t(13 * C8));
    float *row = scratch_rows.data(), *tmp = row + C8, *out = tmp + 3 * C8;
#pragma omp for schedule(static)
    for (int64_t k = 0; k < K; ++k) {
      if (M == 2)
        weight_grad_epilogue_f2(du, parts, du_floats, k, C, K8, C8, row, tmp, out, dw);
      else
        weight_grad_epilogue_f4(du, parts, du_floats, k, C, K8, C8, row, tmp, out, dw);
    }
  }
}

}  // namespace

WinogradIsa winograd_cpu_isa() {
  return cpu_isa();
}

WinogradIsa winograd_isa() {
  return g_isa.load();
}

void set_winograd_isa(WinogradIsa isa) {
  if (int(isa) > int(cpu_isa()))
    throw std::invalid_argument("set_winograd_isa: this CPU does not have the instruction set");
  g_isa = isa;
}

int64_t winograd_weight_floats(WinogradTile tile, int64_t in_channels, int64_t out_channels) {
  const int64_t n = tile == WinogradTile::F2x2 ? 4 : 6;
  return n * n * in_channels * round_up(out_channels, 8);
}

void winograd_transform_weights(WinogradTile tile, const float* w, int64_t in_channels,
                                int64_t out_channels, float* u) {
  const FilterLayout f{in_channels * 9, 9, 0, 3, 1};  // w[k][c][a][b]
  if (tile == WinogradTile::F2x2)
    transform_weights<2>(w, f, in_channels, out_channels, u);
  else
    transform_weights<4>(w, f, in_channels, out_channels, u);
}

void winograd_transform_weights_for_input_grad(WinogradTile tile, const float* w,
                                               int64_t in_channels, int64_t out_channels,
                                               float* u) {
  // The input gradient's convolution maps out_channels → in_channels with w'[i,o,a,b] =
  // w[o,i,2−a,2−b]: its "output channel" k is our in-channel, its "input channel" c our out.
  const FilterLayout f{9, in_channels * 9, 8, -3, -1};
  if (tile == WinogradTile::F2x2)
    transform_weights<2>(w, f, out_channels, in_channels, u);
  else
    transform_weights<4>(w, f, out_channels, in_channels, u);
}

void winograd_conv3x3_forward(WinogradTile tile, const Conv3x3Shape& s, const float* x,
                              const float* u, const float* bias, float* y, const float* residual) {
  if (tile == WinogradTile::F2x2)
    forward<2>(s, x, u, bias, y, residual);
  else
    forward<4>(s, x, u, bias, y, residual);
}

void winograd_conv3x3_weight_grad(WinogradTile tile, const Conv3x3Shape& s, const float* x,
                                  const float* dy, float* dw) {
  if (tile == WinogradTile::F2x2)
    weight_grad<2>(s, x, dy, dw);
  else
    weight_grad<4>(s, x, dy, dw);
}

}  // namespace ddpm::kernels

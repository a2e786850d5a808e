// The register-blocked GEMM micro-kernel of the convolution kernels (winograd_conv_kernel.cpp,
// pointwise_conv_kernel.cpp), with the GCC vector types, loads and stores it is written in, the
// column panels it walks, and the attributes that compile a work function for AVX-512, AVX2 + FMA
// or baseline x86-64.
//
// The GEMMs are register-blocked outer products: R broadcast scalars × up to 3 vectors, one FMA
// per accumulator per step of the reduction: with AVX2 4 rows × 3 vectors of 8 floats (12 of the
// 16 ymm registers), with AVX-512 8 rows × 3 vectors of 16 (24 of the 32 zmm registers); the
// baseline version goes 8 columns at a time on SSE registers. Everything here is always inlined
// into a caller compiled for one instruction set (DDPM_WINO_AVX512, DDPM_WINO_AVX2 or none).
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

namespace ddpm::kernels::micro_gemm {

#define DDPM_WINO_INLINE __attribute__((always_inline)) inline

// The 32- and 64-byte vectors below only ever cross always-inlined helpers, never a real call, so
// GCC's note that their by-value ABI differs without AVX does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

using v8 = float __attribute__((vector_size(32)));
using v4 = float __attribute__((vector_size(16)));
using v16 = float __attribute__((vector_size(64)));

/// Unaligned loads and stores of GCC vectors (memcpy through a local, which GCC turns into one
/// vmovups and keeps the vector in a register).
template <class Vec>
DDPM_WINO_INLINE Vec loadv(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class Vec>
DDPM_WINO_INLINE void storev(float* p, const Vec& v) {
  std::memcpy(p, &v, sizeof v);
}
DDPM_WINO_INLINE v8 load8(const float* p) {
  return loadv<v8>(p);
}
DDPM_WINO_INLINE void store8(float* p, const v8& v) {
  storev(p, v);
}

inline int64_t round_up(int64_t v, int64_t to) {
  return (v + to - 1) / to * to;
}

/// out[r][0 .. L·NV) (+)= Σ_k a[k·sa + r·sr] · b[k·ldb + 0 .. L·NV) for r < R, L the lanes of Vec:
/// R broadcast rows × NV vectors, kept in R·NV accumulators. With `accumulate` the accumulators
/// start from out; only the first `rows` rows are stored.
template <class Vec, int R, int NV, bool accumulate>
DDPM_WINO_INLINE void micro(const float* a, int64_t sa, int64_t sr, const float* b, int64_t ldb,
                            int64_t k, float* out, int64_t ldo, int rows) {
  constexpr int L = sizeof(Vec) / sizeof(float);
  Vec acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < NV; ++j) acc[r][j] = accumulate ? loadv<Vec>(out + r * ldo + L * j) : Vec{};
  for (int64_t q = 0; q < k; ++q) {
    Vec bv[NV];
    for (int j = 0; j < NV; ++j) bv[j] = loadv<Vec>(b + q * ldb + L * j);
    // Scalar × vector: GCC broadcasts the scalar straight from memory (vbroadcastss, or AVX-512's
    // embedded {1to16} operand), where a vector built from it lane by lane would cost inserts.
    for (int r = 0; r < R; ++r) {
      const float av = a[q * sa + r * sr];
      for (int j = 0; j < NV; ++j) acc[r][j] += av * bv[j];
    }
  }
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < NV; ++j) storev(out + r * ldo + L * j, acc[r][j]);
}

/// The instruction sets the hot loops are compiled for, as template arguments: kBase (baseline
/// x86-64, SSE), kAvx2 (AVX2 + FMA, 16 ymm registers), kAvx512 (AVX-512F/VL, 32 registers of
/// 16 floats).
constexpr int kBase = 0, kAvx2 = 1, kAvx512 = 2;

/// Broadcast rows per micro-kernel call: 4 (12 accumulators of 16 registers), 8 with AVX-512 (24
/// accumulators of 32). The forward's blocks of tiles and the out-channel groups of the weight
/// gradient are multiples of 8, so either divides them.
template <int Isa>
constexpr int kRows = Isa == kAvx512 ? 8 : 4;

/// The micro-kernel for a panel of w8·8 columns (panels from make_panels with the same Isa).
/// AVX2: 8-float vectors, 4 rows × up to 3 vectors. AVX-512: 8 rows × up to 3 vectors of 16
/// floats, or of 8 for the one panel of 8 or 24 a row that is an odd multiple of 8 ends with.
/// Baseline: SSE vectors, one 8-column strip at a time (8 accumulators of the 16 xmm registers;
/// 12 × 2 would spill).
/// micro with nv (1 to 3) vectors of Vec.
template <class Vec, int R, bool accumulate>
DDPM_WINO_INLINE void micro_vectors(int nv, const float* a, int64_t sa, int64_t sr, const float* b,
                                    int64_t ldb, int64_t k, float* out, int64_t ldo, int rows) {
  switch (nv) {
    case 3:
      micro<Vec, R, 3, accumulate>(a, sa, sr, b, ldb, k, out, ldo, rows);
      break;
    case 2:
      micro<Vec, R, 2, accumulate>(a, sa, sr, b, ldb, k, out, ldo, rows);
      break;
    default:
      micro<Vec, R, 1, accumulate>(a, sa, sr, b, ldb, k, out, ldo, rows);
      break;
  }
}

template <bool accumulate, int Isa>
DDPM_WINO_INLINE void micro_any(int w8, const float* a, int64_t sa, int64_t sr, const float* b,
                                int64_t ldb, int64_t k, float* out, int64_t ldo, int rows) {
  constexpr int R = kRows<Isa>;
  if constexpr (Isa == kBase) {
    for (int j = 0; j < w8; ++j)
      micro<v4, R, 2, accumulate>(a, sa, sr, b + 8 * j, ldb, k, out + 8 * j, ldo, rows);
  } else if constexpr (Isa == kAvx2) {
    micro_vectors<v8, R, accumulate>(w8, a, sa, sr, b, ldb, k, out, ldo, rows);
  } else if (w8 % 2 == 0) {
    micro_vectors<v16, R, accumulate>(w8 / 2, a, sa, sr, b, ldb, k, out, ldo, rows);
  } else {  // a row's last panel of 8 or 24 floats
    micro_vectors<v8, R, accumulate>(w8, a, sa, sr, b, ldb, k, out, ldo, rows);
  }
}

/// Column panels of a matrix whose row is `cols` floats (a multiple of 8), in vectors of 8 floats
/// (AVX2, baseline) or 16 (AVX-512): widths of 3 vectors, and 2 where 3 does not divide (1 only
/// for a single vector), e.g. 64 = 24 + 24 + 16 in 8s, 64 = 32 + 32 in 16s; with 16s a row of an
/// odd number of 8s ends with one panel of 8.
struct Panels {
  std::vector<int64_t> start;  // first column
  std::vector<int> vecs;       // width / 8
  int count() const { return int(vecs.size()); }
  int64_t end(int p) const { return start[p] + 8 * vecs[p]; }
};

inline Panels make_panels(int64_t cols, int isa) {
  const int lanes = isa == kAvx512 ? 16 : 8;
  const int64_t q = cols / lanes, rest8 = (cols % lanes) / 8;
  int64_t threes = q / 3, twos = 0;
  if (q == 1) {
    threes = 0;
  } else if (q % 3 == 1) {
    threes -= 1;
    twos = 2;
  } else if (q % 3 == 2) {
    twos = 1;
  }
  Panels p;
  int64_t c = 0;
  auto add = [&](int v8s) {
    p.start.push_back(c);
    p.vecs.push_back(v8s);
    c += 8 * v8s;
  };
  const int per = lanes / 8;  // 8-float units per vector
  for (int64_t i = 0; i < threes; ++i) add(3 * per);
  for (int64_t i = 0; i < twos; ++i) add(2 * per);
  if (q == 1) add(per);
  if (rest8) add(1);
  return p;
}

// A work function three times: for AVX-512 (16-float vectors in the GEMMs, 8 rows), for
// AVX2 + FMA (8-float vectors throughout) and for baseline x86-64 (the same code on SSE, with the
// narrower GEMM micro-kernel), picked by the instruction set in force when a call starts.
#define DDPM_WINO_AVX2 __attribute__((target("avx2,fma")))
#define DDPM_WINO_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))

/// The variant of a work function for instruction set `isa` (kBase, kAvx2, kAvx512).
template <class F>
F pick(int isa, F base, F avx2, F avx512) {
  return isa == kAvx512 ? avx512 : isa == kAvx2 ? avx2 : base;
}

}  // namespace ddpm::kernels::micro_gemm

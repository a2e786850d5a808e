#include "models/kernels/dropout_kernel.h"

#include <algorithm>
#include <cmath>

namespace ddpm::kernels {

namespace {

constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // multipliers
constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key increments

/// The ten rounds of Philox4x32-10 on 32-bit words held in 64-bit lanes: `Lane` is uint64_t (one
/// block) or a vector of them (blocks side by side), so that the round's 32×32→64-bit products
/// are plain multiplies of zero-extended words, which GCC vectorises.
template <class Lane>
__attribute__((always_inline)) inline void philox10(Lane& c0, Lane& c1, Lane& c2, Lane& c3,
                                                    uint32_t k0, uint32_t k1) {
  const Lane low = Lane{} + 0xffffffffull;
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {  // the key bumped by the Weyl constants before every round but the first
      k0 += kW0;
      k1 += kW1;
    }
    const Lane p0 = (c0 & low) * (Lane{} + kM0), p1 = (c2 & low) * (Lane{} + kM1);
    const Lane n0 = (p1 >> 32) ^ c1 ^ k0, n2 = (p0 >> 32) ^ c3 ^ k1;
    c1 = p1 & low;
    c3 = p0 & low;
    c0 = n0;
    c2 = n2;
  }
}

using u64x8 = uint64_t __attribute__((vector_size(64)));

/// Blocks [b0, b1) of 4 elements (the last possibly short), 8 blocks side by side: each 32-bit
/// word in a 64-bit lane, so that the round's 32×32→64-bit products are vector multiplies of
/// zero-extended words; then the 32 words in element order and one vectorised select. Cloned for
/// AVX-512 too, where the eight 64-bit lanes are one register (2.7 ms for 2 Mi elements on one
/// core, against 9 ms on AVX2, where GCC splits them and emulates the 64-bit products).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
void dropout_blocks(const float* in, float* out, int64_t n, int64_t b0, int64_t b1, uint32_t key0,
                    uint32_t key1, uint32_t threshold, float scale) {
  for (int64_t b = b0; b < b1; b += 8) {
    u64x8 c0, c1, c2 = {}, c3 = {};
    for (int l = 0; l < 8; ++l) {
      c0[l] = uint32_t(uint64_t(b + l));
      c1[l] = uint32_t(uint64_t(b + l) >> 32);
    }
    philox10(c0, c1, c2, c3, key0, key1);
    uint32_t u[32];  // element 4·(b + l) + w ← word w of block b + l
    for (int l = 0; l < 8; ++l) {
      u[4 * l] = uint32_t(c0[l]);
      u[4 * l + 1] = uint32_t(c1[l]);
      u[4 * l + 2] = uint32_t(c2[l]);
      u[4 * l + 3] = uint32_t(c3[l]);
    }
    const int64_t i0 = 4 * b, count = std::min<int64_t>(32, std::min(n, 4 * b1) - i0);
    if (count == 32) {
      for (int j = 0; j < 32; ++j) out[i0 + j] = u[j] < threshold ? in[i0 + j] * scale : 0.0f;
    } else {
      for (int64_t j = 0; j < count; ++j)
        out[i0 + j] = u[j] < threshold ? in[i0 + j] * scale : 0.0f;
    }
  }
}

}  // namespace

std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> counter,
                                      std::array<uint32_t, 2> key) {
  uint64_t c[4] = {counter[0], counter[1], counter[2], counter[3]};
  philox10(c[0], c[1], c[2], c[3], key[0], key[1]);
  return {uint32_t(c[0]), uint32_t(c[1]), uint32_t(c[2]), uint32_t(c[3])};
}

void philox_dropout(const float* in, float* out, int64_t n, uint64_t key, double p) {
  const double keep = 1.0 - p;
  // kept ⇔ u < threshold, u uniform on [0, 2³²): probability threshold / 2³² = keep (to 2⁻³²).
  const uint32_t threshold = uint32_t(std::min(std::ldexp(keep, 32), 4294967295.0));
  const float scale = float(1.0 / keep);
  const uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
  const int64_t blocks = (n + 3) / 4;
  constexpr int64_t kChunk = 4096;  // blocks per OpenMP work item (16 Ki elements)
#pragma omp parallel for schedule(static) if (blocks > kChunk)
  for (int64_t b = 0; b < blocks; b += kChunk)
    dropout_blocks(in, out, n, b, std::min(blocks, b + kChunk), k0, k1, threshold, scale);
}

}  // namespace ddpm::kernels

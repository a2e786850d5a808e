// Scalar math for the hand-written CPU kernels (group_norm_act.cpp, fused_attention.cpp), written
// so that GCC vectorises the loops that call it, plus the attribute that compiles those loops
// three times: for AVX-512 (x86-64-v4), for AVX2 + FMA (x86-64-v3) and for the baseline x86-64,
// picked at load time by the CPU the program runs on (GCC function multi-versioning,
// target_clones). The AVX-512 clone made GroupNorm+SiLU 1.5× faster on this project's AMD EPYC
// (0.46 → 0.30 ns per element on 2 threads, whose cores run 512-bit vectors at full width).
//
// fast_exp follows the Cephes / SLEEF scheme LibTorch's own vectorised exp uses: e^x = 2^n · e^r
// with n = round(x / ln 2), r = x − n ln 2 in two parts (Cody–Waite), e^r by a degree-6
// polynomial; relative error below 2e-7 (about 2 ulp) over the clamped range, which keeps the
// kernels within the diffusers-equivalence tolerances. Branch-free, so loops over it vectorise.
#pragma once
#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DDPM_CPU_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DDPM_CPU_CLONES
#endif

namespace ddpm::cpu {

__attribute__((always_inline)) inline float fast_exp(float x) {
  const float in = x;
  // Outside [−87.3, 88.3] e^x leaves the normal floats; clamping keeps 2^n in [2^−126, 2^127].
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  // A NaN passes the clamp; it must not reach int32_t(n) below (converting NaN to an integer is
  // undefined behaviour, found by UBSan): compute on 0 and give the NaN back at the end.
  x = x == x ? x : 0.0f;
  // n = round(x / ln 2) by the 1.5·2^23 trick (round to nearest even, vectorises without SSE4.1).
  constexpr float kRound = 12582912.0f;
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  float r = x - n * 0.693359375f;  // ln 2, high part
  r = r - n * -2.12194440e-4f;     // ln 2, low part
  // e^r on |r| ≤ ln2/2 (Cephes expf coefficients).
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (int32_t(n) + 127) << 23;  // 2^n, n in [−126, 127]
  const float e = p * __builtin_bit_cast(float, bits);
  return in == in ? e : in;
}

/// σ(x) = 1 / (1 + e^−x)
__attribute__((always_inline)) inline float sigmoid(float x) {
  return 1.0f / (1.0f + fast_exp(-x));
}

}  // namespace ddpm::cpu

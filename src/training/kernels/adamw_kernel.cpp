#include "training/kernels/adamw_kernel.h"

#include <algorithm>
#include <cmath>

#include "models/cpu_math.h"

namespace ddpm::kernels {

namespace {

constexpr int64_t kChunk = 32768;  // elements per thread's piece; smaller tensors stay on one

DDPM_CPU_CLONES
void update_range(float* p, const float* g, float* m, float* v, int64_t begin, int64_t end,
                  const AdamWScalars& s) {
  for (int64_t i = begin; i < end; ++i) {
    const float gi = g[i];
    const float pi = p[i] * s.decay;
    // ATen's lerp for a weight below ½: m + w·(g − m).
    const float mi = m[i] + s.beta1_weight * (gi - m[i]);
    const float vi = v[i] * s.beta2 + s.beta2_weight * gi * gi;
    const float denom = std::sqrt(vi) / s.bias2_sqrt + s.eps;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - s.step_size * (mi / denom);
  }
}

}  // namespace

void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamWScalars& s) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c)
    update_range(p, g, m, v, c * kChunk, std::min(n, (c + 1) * kChunk), s);
}

}  // namespace ddpm::kernels

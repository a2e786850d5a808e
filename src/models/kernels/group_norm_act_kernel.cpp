#include "models/kernels/group_norm_act_kernel.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "models/cpu_math.h"

namespace ddpm::kernels {

namespace {

/// `channels` rows of `positions` contiguous floats: the channels of one group of one sample.
struct Block {
  int64_t channels = 0;
  int64_t positions = 0;
};

// Row loops, each simple enough for GCC to vectorise (one loop, one job), each compiled for AVX2
// + FMA and for baseline x86-64.

DDPM_CPU_CLONES
float row_sum(const float* x, int64_t n) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += x[i];
  return s;
}

/// Σ (x_i + shift)²
DDPM_CPU_CLONES
float row_centered_squares(const float* x, float shift, int64_t n) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) {
    const float d = x[i] + shift;
    s += d * d;
  }
  return s;
}

/// y = x·a + k
DDPM_CPU_CLONES
void row_affine(const float* x, float a, float k, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * a + k;
}

/// y = silu(x·a + k)
DDPM_CPU_CLONES
void row_affine_silu(const float* x, float a, float k, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float z = x[i] * a + k;
    y[i] = z * cpu::sigmoid(z);
  }
}

/// dz = dy · silu′(z), z = x·a + k (the pre-activation, rebuilt from x): silu′ = σ(1 + z(1 − σ)).
DDPM_CPU_CLONES
void row_silu_grad(const float* x, float a, float k, const float* dy, float* dz, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float z = x[i] * a + k;
    const float s = cpu::sigmoid(z);
    dz[i] = dy[i] * (s * (1.0f + z * (1.0f - s)));
  }
}

/// Σ dz and Σ dz·x̂ with x̂ = (x + shift)·rstd.
DDPM_CPU_CLONES
void row_dz_sums(const float* x, float shift, float rstd, const float* dz, int64_t n, float* sum_dz,
                 float* sum_dz_xhat) {
  float s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : s1, s2)
  for (int64_t i = 0; i < n; ++i) {
    s1 += dz[i];
    s2 += dz[i] * ((x[i] + shift) * rstd);
  }
  *sum_dz = s1;
  *sum_dz_xhat = s2;
}

/// dx = rstd · (γ dz − m1 − x̂ m2), in place over dz; returns Σ dx.
DDPM_CPU_CLONES
float row_input_grad(const float* x, float shift, float rstd, float gamma, float m1, float m2,
                     float* dz_dx, int64_t n) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) {
    const float xhat = (x[i] + shift) * rstd;
    const float v = rstd * (gamma * dz_dx[i] - m1 - xhat * m2);
    dz_dx[i] = v;
    s += v;
  }
  return s;
}

/// The rows of one block: channel c at first + c·P for c < split, else at
/// second + (c − split)·P (a block of a concatenation that straddles its two tensors).
struct Rows {
  const float* first;
  int64_t split;
  const float* second;
  int64_t positions;
  const float* operator()(int64_t c) const {
    return c < split ? first + c * positions : second + (c - split) * positions;
  }
};

// Mean and 1/√(var + ε) of x + b_c over the block: rows summed in float (vectorised), rows into
// float64, in two passes (the block sits in cache, and the centred second pass avoids E[x²] − μ²'s
// cancellation).
void block_moments(const Rows& x, const float* b, Block blk, double eps, float* mean_out,
                   float* rstd_out) {
  const int64_t P = blk.positions;
  double sum = 0;
  for (int64_t c = 0; c < blk.channels; ++c)
    sum += double(row_sum(x(c), P)) + (b ? double(b[c]) * double(P) : 0.0);
  const double count = double(blk.channels * P);
  const double mean = sum / count;
  double squares = 0;
  for (int64_t c = 0; c < blk.channels; ++c)
    squares += double(row_centered_squares(x(c), float((b ? double(b[c]) : 0.0) - mean), P));
  *mean_out = float(mean);
  *rstd_out = float(1.0 / std::sqrt(squares / count + eps));
}

// y = act(x·a_c + k_c) per row, with a_c = rstd·γ_c and k_c = β_c + (b_c − μ)·a_c.
void block_forward(const Rows& x, const float* b, const float* gamma, const float* beta, Block blk,
                   float mean, float rstd, bool silu, float* y) {
  const int64_t P = blk.positions;
  for (int64_t c = 0; c < blk.channels; ++c) {
    const float a = rstd * gamma[c];
    const float k = beta[c] + ((b ? b[c] : 0.0f) - mean) * a;
    (silu ? row_affine_silu : row_affine)(x(c), a, k, y + c * P, P);
  }
}

// dz is kept in dx between the two passes; the second applies the GroupNorm backward.
void block_backward(const float* x, const float* b, const float* gamma, const float* beta,
                    const float* dy, Block blk, float mean, float rstd, bool silu, float* dx,
                    float* db, double* sum_dz, double* sum_dz_xhat) {
  const int64_t P = blk.positions;
  double g_dz = 0, g_dz_xhat = 0;  // Σ over the block of γ dz and γ dz x̂
  for (int64_t c = 0; c < blk.channels; ++c) {
    const float shift = (b ? b[c] : 0.0f) - mean;
    const float* dz = dy + c * P;
    if (silu) {
      const float a = rstd * gamma[c];
      row_silu_grad(x + c * P, a, beta[c] + shift * a, dy + c * P, dx + c * P, P);
      dz = dx + c * P;
    }
    float s_dz, s_dz_xhat;
    row_dz_sums(x + c * P, shift, rstd, dz, P, &s_dz, &s_dz_xhat);
    if (!silu)
      for (int64_t i = 0; i < P; ++i) dx[c * P + i] = dz[i];
    sum_dz[c] = s_dz;
    sum_dz_xhat[c] = s_dz_xhat;
    g_dz += double(gamma[c]) * s_dz;
    g_dz_xhat += double(gamma[c]) * s_dz_xhat;
  }
  const double count = double(blk.channels * P);
  const float m1 = float(g_dz / count), m2 = float(g_dz_xhat / count);
  for (int64_t c = 0; c < blk.channels; ++c) {
    const float s =
        row_input_grad(x + c * P, (b ? b[c] : 0.0f) - mean, rstd, gamma[c], m1, m2, dx + c * P, P);
    if (db) db[c] = s;
  }
}

/// Where one (sample, group) block lies: ng indexes [samples, groups] (mean, rstd), nc the
/// block's first (sample, channel) (bias, per-channel sums), c0 its first channel (γ, β), and
/// nc · positions its first element of x, y, dx.
struct BlockAt {
  int64_t ng, nc, c0, offset;
};

/// f(BlockAt) for every block, the blocks split across the OpenMP threads.
template <typename F>
void for_each_block(const GroupNormProblem& p, F&& f) {
  const int64_t channels = p.channels / p.groups, blocks = p.samples * p.groups;
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (int64_t ng = 0; ng < blocks; ++ng) {
    const int64_t c0 = (ng % p.groups) * channels, nc = (ng / p.groups) * p.channels + c0;
    f(BlockAt{ng, nc, c0, nc * p.positions});
  }
}

}  // namespace

void group_norm_act_forward(const GroupNormProblem& p, double eps, bool silu, float* y, float* mean,
                            float* rstd) {
  const Block blk{p.channels / p.groups, p.positions};
  const int64_t P = p.positions;
  for_each_block(p, [&](const BlockAt& at) {
    Rows rows{p.x + at.offset, blk.channels, nullptr, P};
    if (p.x2) {  // channels [0, x_channels) from x, the rest from x2
      const int64_t n = at.ng / p.groups, c1 = p.x_channels, c2 = p.channels - c1;
      rows.first = p.x + (n * c1 + std::min(at.c0, c1)) * P;
      rows.split = std::clamp<int64_t>(c1 - at.c0, 0, blk.channels);
      rows.second = p.x2 + (n * c2 + std::max<int64_t>(at.c0 - c1, 0)) * P;
    }
    const float* b = p.bias ? p.bias + at.nc : nullptr;
    block_moments(rows, b, blk, eps, mean + at.ng, rstd + at.ng);
    block_forward(rows, b, p.gamma + at.c0, p.beta + at.c0, blk, mean[at.ng], rstd[at.ng], silu,
                  y + at.offset);
  });
}

void group_norm_act_backward(const GroupNormProblem& p, const float* mean, const float* rstd,
                             bool silu, const float* dy, float* dx, float* d_bias, double* sum_dz,
                             double* sum_dz_xhat) {
  if (p.x2) throw std::invalid_argument("group_norm_act_backward: one input tensor only");
  const Block blk{p.channels / p.groups, p.positions};
  for_each_block(p, [&](const BlockAt& at) {
    block_backward(p.x + at.offset, p.bias ? p.bias + at.nc : nullptr, p.gamma + at.c0,
                   p.beta + at.c0, dy + at.offset, blk, mean[at.ng], rstd[at.ng], silu,
                   dx + at.offset, d_bias ? d_bias + at.nc : nullptr, sum_dz + at.nc,
                   sum_dz_xhat + at.nc);
  });
}

}  // namespace ddpm::kernels

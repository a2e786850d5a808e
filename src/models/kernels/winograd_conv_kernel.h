// Winograd convolution for 3×3 kernels, stride 1, zero padding 1, NCHW float32 contiguous: the
// minimal-filtering algorithms F(2×2, 3×3) and F(4×4, 3×3) of Lavin & Gray, "Fast Algorithms for
// Convolutional Neural Networks" (CVPR 2016). Each m×m output tile is Aᵀ [U ⊙ V] A with
// U = G g Gᵀ the transformed 3×3 filter and V = Bᵀ d B the transformed (m+2)×(m+2) input patch,
// so summing over input channels turns into one GEMM per frequency point ξ ∈ (m+2)²:
// M[ξ] (tiles × out) = V[ξ] (tiles × in) · U[ξ] (in × out). F(2×2) does 16 multiplies per output
// pair where direct convolution does 36 (2.25×), F(4×4) 36 where direct does 144 (4×), at the
// price of larger transforms and a somewhat larger rounding error (F(4×4) uses the points
// 0, ±1, ±2, ∞, whose matrices have entries up to 8 and 1/24).
//
// Plain C++ without LibTorch: the hot loops are written on GCC vector types and compiled three
// times, for AVX-512 (16-float GEMM vectors, 8 rows per micro-kernel), for AVX2 + FMA (target
// attributes, chosen at run time by __builtin_cpu_supports) and for baseline x86-64 (the same code
// on SSE, with a narrower GEMM micro-kernel); the small epilogue uses
// DDPM_CPU_CLONES (models/cpu_math.h). OpenMP threads take blocks of tiles (forward), or blocks
// of tiles × output channels when the image has too few tiles to keep every thread busy. The
// weight gradient on many tiles gives each thread its own blocks of tiles and dU, summed at the
// end; on few tiles (small images) the threads share one dU and split it by (frequency point,
// block of output channels), the tiles being the GEMMs' reduction dimension.
#pragma once
#include <cstdint>

namespace ddpm::kernels {

/// The output tile m×m of F(m×m, 3×3): F2x2 works on 4×4 input tiles, F4x4 on 6×6.
enum class WinogradTile { F2x2, F4x4 };

/// The instruction sets the kernels are compiled for: baseline x86-64 (SSE), AVX2 + FMA, and
/// AVX-512 (F, VL, DQ, BW), whose GEMMs use 16-float vectors and 8 rows (32 registers).
enum class WinogradIsa { baseline = 0, avx2 = 1, avx512 = 2 };

/// The best one this CPU has.
WinogradIsa winograd_cpu_isa();
/// The one in force (winograd_cpu_isa() unless lowered by set_winograd_isa). The transformed
/// weights' layout depends on it: transform and convolve under the same one.
WinogradIsa winograd_isa();
/// Lowers (or restores) the instruction set, for tests and benchmarks of the narrower paths;
/// std::invalid_argument if the CPU lacks it. Not for use while a convolution runs.
void set_winograd_isa(WinogradIsa isa);

/// Any height, width ≥ 1 (edge tiles that stick out of the image are cut).
struct Conv3x3Shape {
  int64_t batch, in_channels, out_channels, height, width;
};

/// Floats of a transformed weight buffer: (m+2)² · in · out8, out8 = out_channels rounded up to
/// a multiple of 8 (the padding columns are zero), i.e. (m+2)² · out · in when out % 8 == 0.
int64_t winograd_weight_floats(WinogradTile tile, int64_t in_channels, int64_t out_channels);

/// U = G g Gᵀ for every (out, in) pair of w [out, in, 3, 3], in the layout the forward wants
/// (per frequency point, panels of 8–24 output channels, in-channel-major within a panel).
void winograd_transform_weights(WinogradTile tile, const float* w, int64_t in_channels,
                                int64_t out_channels, float* u);

/// The same for the input gradient: the weights flipped 180° with in/out swapped
/// (w'[i,o,a,b] = w[o,i,2−a,2−b]), so that dx = winograd_conv3x3_forward(dy, u') with the shape's
/// in/out swapped and no bias. u holds winograd_weight_floats(tile, out_channels, in_channels).
void winograd_transform_weights_for_input_grad(WinogradTile tile, const float* w,
                                               int64_t in_channels, int64_t out_channels, float* u);

/// y [N, out, H, W] = conv3x3(x [N, in, H, W], weights) + bias[out] (+ residual [N, out, H, W],
/// added last: a residual block's shortcut; bias and residual may be null); u from
/// winograd_transform_weights.
void winograd_conv3x3_forward(WinogradTile tile, const Conv3x3Shape& s, const float* x,
                              const float* u, const float* bias, float* y,
                              const float* residual = nullptr);

/// dw [out, in, 3, 3] = ∂L/∂w given x [N, in, H, W] and dy [N, out, H, W] (overwrites dw), in the
/// Winograd domain: dU[ξ] = Σ_tiles (A·dY_tile·Aᵀ)[ξ] ⊗ V[ξ] with V = Bᵀ d B the forward's input
/// transform, then dw = Gᵀ dU G.
void winograd_conv3x3_weight_grad(WinogradTile tile, const Conv3x3Shape& s, const float* x,
                                  const float* dy, float* dw);

}  // namespace ddpm::kernels

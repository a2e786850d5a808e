// 1×1 convolution of NCHW float32 maps on the CPU, forward: per image
//
//   Y[K, P] = W[K, C] · X[C, P] + b,   P = H·W pixels,
//
// as one strided GEMM per image (gemm_kernel.h: rows 8 out-channels with AVX-512, 4 with AVX2,
// broadcast from W; columns panels of up to 48 pixels of X's channel rows), on the tensors as
// they lie; the last P % 8 pixels as dot products. oneDNN's 1×1 convolution first reorders plain
// NCHW maps into its blocked layout and back, and ran at 84–152 GFLOP/s on the presets' shapes
// against 161–289 for this kernel (AVX-512, 2 threads; `ddpm bench` prints the per-shape table).
#pragma once
#include <cstdint>

namespace ddpm::kernels {

struct PointwiseShape {
  int64_t batch, in_channels, out_channels, pixels;  ///< pixels = H·W
};

/// y [N, K, P] = w [K, C] · x [N, C, P] (+ bias [K] when not null), any sizes.
void pointwise_conv_forward(const PointwiseShape& s, const float* x, const float* w,
                            const float* bias, float* y);

/// The same on the concatenation along channels of x [N, x_channels, P] and x2
/// [N, in_channels − x_channels, P], without it being made (the UNet's skip connections): the
/// same sums in the same order, so the same result bit for bit. Throws std::invalid_argument for
/// x_channels outside 0..in_channels or a missing x2.
void pointwise_conv_forward_concat(const PointwiseShape& s, const float* x, int64_t x_channels,
                                   const float* x2, const float* w, const float* bias, float* y);

}  // namespace ddpm::kernels

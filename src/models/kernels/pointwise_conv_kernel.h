// 1×1 convolution of NCHW float32 maps on the CPU, forward and both backward passes: per image
//
//   Y[K, P] = W[K, C] · X[C, P] + b,   P = H·W pixels,
//   dX[C, P] = Wᵀ[C, K] · dY[K, P],    dW[K, C] = Σ_images dY[K, P] · X[C, P]ᵀ,
//
// as one strided GEMM per image (gemm_kernel.h: rows 8 out-channels with AVX-512, 4 with AVX2,
// broadcast from W; columns panels of up to 48 pixels of X's channel rows), on the tensors as
// they lie; the last P % 8 pixels as dot products. oneDNN's 1×1 convolution first reorders plain
// NCHW maps into its blocked layout and back, and ran at 84–152 GFLOP/s on the presets' shapes
// against 161–289 for this kernel (AVX-512, 2 threads; `ddpm bench` prints the per-shape table).
// The input gradient is the same strided GEMM with Wᵀ read in place. The weight gradient is a
// product whose reduction runs along the pixels of both operands, which the GEMM micro-kernel
// (contiguous columns) does not fit: it has its own register-blocked dot products, 4 out-channels
// × 6 in-channels of vector accumulators with AVX-512 (3 × 4 with AVX2), over the pixels of all
// images, each thread taking a contiguous range of them and the threads' sums added at the end.
// oneDNN's backward for these layers took up to 35 ms (32×48→16 at 32×32, fashion-mnist's
// training; 50 MFLOP).
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

/// The input gradient of pointwise_conv_forward_concat: dx [N, x_channels, P] and dx2
/// [N, in_channels − x_channels, P] (null when x_channels = in_channels) from dy [N, K, P] and
/// w [K, C]: dx = wᵀ · dy per image, split along the channels as the input was. Overwrites them.
void pointwise_conv_input_grad(const PointwiseShape& s, const float* dy, const float* w,
                               int64_t x_channels, float* dx, float* dx2);

/// The weight gradient of pointwise_conv_forward_concat: dw [K, C] = Σ_n dy_n · [x_n; x2_n]ᵀ, the
/// in-channels from x (the first x_channels) and x2 (the rest) as in the forward. Overwrites dw.
void pointwise_conv_weight_grad(const PointwiseShape& s, const float* dy, const float* x,
                                int64_t x_channels, const float* x2, float* dw);

}  // namespace ddpm::kernels

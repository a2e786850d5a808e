// The 3×3, stride-1, padding-1 convolution computed directly, for layers with very few input or
// output channels (a UNet's conv_in from 1 or 3 image channels, its conv_out back to them), where
// Winograd transforms 8 channels per vector for 1 to 3 useful ones and oneDNN's blocked layouts
// are mostly padding. Per output row: the three input rows of every in-channel copied into a
// zero-bordered buffer, then for each out-channel and each run of 16 outputs
//
//   y[k][i][x .. x+15] = b[k] + Σ_c Σ_a Σ_b w[k][c][a][b] · row[c][i + a − 1][x + b − 1 .. + 15]
//
// in one vector accumulator (9·C multiply-adds per 16 outputs; nothing is transformed). Forward
// only: the autotune offers it to layers without gradients (models/conv3x3.h).
//
// Compiled for AVX-512, AVX2 and baseline x86-64 (target clones), with OpenMP over rows.
#pragma once
#include <cstdint>

namespace ddpm::kernels {

struct DirectConvShape {
  int64_t batch, in_channels, out_channels, height, width;
};

/// y [N, K, H, W] = conv3x3(x [N, C, H, W], w [K, C, 3, 3]) + bias [K] (bias may be null), all
/// contiguous float32.
void direct_conv3x3_forward(const DirectConvShape& s, const float* x, const float* w,
                            const float* bias, float* y);

}  // namespace ddpm::kernels

// Resolution changes between UNet levels.
//
// Downsample2D: diffusers 0.21.4 Downsample2D (src/diffusers/models/resnet.py): a 3×3 stride-2
// conv named "conv"; padding 0 means F.pad(x, (0, 1, 0, 1)) first, as DDPM's TF code (SAME
// padding on even sizes pads only right and bottom); or 2×2 average pooling (use_conv = False,
// and the Keras DDIM example's AveragePooling2D).
// Upsample2D: diffusers Upsample2D: nearest ×2 then a 3×3 conv named "conv"; or bilinear ×2 with
// half-pixel centres and no conv (Keras UpSampling2D(interpolation="bilinear"), which in TF2
// matches torch's align_corners = false).
#pragma once
#include <torch/torch.h>

#include "models/unet_config.h"

namespace ddpm {

class Downsample2DImpl : public torch::nn::Module {
 public:
  /// `padding` (0 or 1) applies to the conv kind only.
  Downsample2DImpl(int64_t channels, Downsampling kind, int64_t padding);
  /// [B, C, H, W] → [B, C, H/2, W/2]
  torch::Tensor forward(const torch::Tensor& x);

 private:
  Downsampling kind_;
  int64_t padding_;
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Downsample2D);

/// Nearest-neighbour ×2 ([B, C, H, W] → [B, C, 2H, 2W]): by kernels/upsample_kernel.h for float32
/// CPU tensors when no gradient is needed, else by LibTorch (the same values either way).
torch::Tensor upsample_nearest2x(const torch::Tensor& x);

class Upsample2DImpl : public torch::nn::Module {
 public:
  /// nearest: with a 3×3 conv over `channels`; bilinear: no parameters.
  Upsample2DImpl(int64_t channels, Upsampling kind);
  /// [B, C, H, W] → [B, C, 2H, 2W]
  torch::Tensor forward(const torch::Tensor& x);

 private:
  Upsampling kind_;
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Upsample2D);

}  // namespace ddpm

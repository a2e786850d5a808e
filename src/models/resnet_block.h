// The UNet's residual block, in its two published arrangements.
//
// diffusers style: diffusers 0.21.4 ResnetBlock2D (src/diffusers/models/resnet.py), the DDPM
// block (Ho et al. 2020, diffusion_tf/models/unet.py resnet_block):
//   h = conv1(SiLU(norm1(x))); h += time_emb_proj(SiLU(temb))   ("default")
//   h = norm2(h) [· (1 + scale) + shift, "scale_shift"]; h = conv2(dropout(SiLU(h)))
//   out = (conv_shortcut(x) + h) / output_scale_factor
// keras style: the Keras DDIM example's ResidualBlock (A. Béres, keras.io/examples/generative/
// ddim): h = conv2(swish(conv1(norm(x)))); out = h + (x or conv_shortcut(x)); with every-block
// injection, time_emb_proj(SiLU(temb)) is added after conv1's swish (this project's extension).
#pragma once
#include <torch/torch.h>

#include "models/norm_layer.h"
#include "models/unet_config.h"

namespace ddpm {

struct ResnetBlockOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t temb_channels = 0;  ///< width of temb; 0 = no time_emb_proj (input-only injection)
  UNetLayout style = UNetLayout::diffusers;  ///< which arrangement (and module names)
  NormOptions norm;
  double dropout = 0.0;
  double output_scale_factor = 1.0;  ///< diffusers: the sum is divided by it
  ResnetTimeScaleShift time_scale_shift = ResnetTimeScaleShift::additive;
};

class ResnetBlock2DImpl : public torch::nn::Module {
 public:
  explicit ResnetBlock2DImpl(const ResnetBlockOptions& options);
  /// x [B, in, H, W], temb [B, temb_channels] or undefined → [B, out, H, W]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& temb);
  /// forward(cat({x, skip}, 1), temb): the up blocks' skip connections. Without gradients the
  /// norm and the 1×1 shortcut read x and skip where they lie and no concatenation is made (the
  /// same result bit for bit).
  torch::Tensor forward_concat(const torch::Tensor& x, const torch::Tensor& skip,
                               const torch::Tensor& temb);

 private:
  torch::Tensor add_time(const torch::Tensor& h, const torch::Tensor& temb);
  /// The block on x, or on cat({x, skip}, 1) when skip is defined.
  torch::Tensor run(const torch::Tensor& x, const torch::Tensor& skip, const torch::Tensor& temb);

  ResnetBlockOptions options_;
  NormLayer norm1_, norm2_;  // keras style: only norm1_, registered as "norm"
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv_shortcut{nullptr};
  torch::nn::Linear time_emb_proj{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(ResnetBlock2D);

}  // namespace ddpm

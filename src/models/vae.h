// The encoder and decoder of the latent-diffusion autoencoders: diffusers 0.21.4 Encoder and
// Decoder (src/diffusers/models/vae.py), themselves the LDM/taming-transformers networks
// (Rombach et al. 2022, ldm/modules/diffusionmodules/model.py) with diffusers' module names.
//
// Encoder: conv_in → per level DownEncoderBlock2D (layers_per_block resnets, then, except at the
//   last level, Downsample2D: F.pad(x, (0, 1, 0, 1)) and a stride-2 3×3 conv without padding) →
//   mid_block (resnet, one-head attention, resnet) → GroupNorm, SiLU → conv_out to 2·latent
//   channels (KL: mean and log-variance) or latent channels (VQ).
// Decoder: conv_in → mid_block → per level, widest first, UpDecoderBlock2D (layers_per_block + 1
//   resnets, then nearest ×2 and a 3×3 conv except at the last level) → GroupNorm, SiLU → conv_out.
// No time embedding anywhere; every GroupNorm has eps 1e-6.
#pragma once
#include <torch/torch.h>

#include "models/autoencoder_config.h"
#include "models/resnet_block.h"
#include "models/sampling_layers.h"
#include "models/unet_blocks.h"

namespace ddpm {

/// One level of the encoder (DownEncoderBlock2D: resnets + downsamplers.0) or of the decoder
/// (UpDecoderBlock2D: resnets + upsamplers.0).
class CoderLevelImpl : public torch::nn::Module {
 public:
  enum class Resample { none, down, up };
  CoderLevelImpl(int64_t in_channels, int64_t out_channels, int64_t resnets, int64_t groups,
                 Resample resample);
  /// [B, in, H, W] → [B, out, H', W'] (H' = H/2, H or 2H)
  torch::Tensor forward(torch::Tensor h);

 private:
  torch::nn::ModuleList resnets, downsamplers, upsamplers;
  std::vector<ResnetBlock2D> resnet_list_;
  Downsample2D down_{nullptr};
  Upsample2D up_{nullptr};
};
TORCH_MODULE(CoderLevel);

class VAEEncoderImpl : public torch::nn::Module {
 public:
  /// `double_z`: 2·latent_channels outputs (AutoencoderKL) or latent_channels (VQModel).
  VAEEncoderImpl(const AutoencoderConfig& config, bool double_z);
  /// images [B, in_channels, S, S] → [B, (2·)latent_channels, S/f, S/f]
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  torch::nn::ModuleList down_blocks;
  std::vector<CoderLevel> levels_;
  MidBlock2D mid_block{nullptr};
  NormLayer conv_norm_out_;
};
TORCH_MODULE(VAEEncoder);

class VAEDecoderImpl : public torch::nn::Module {
 public:
  explicit VAEDecoderImpl(const AutoencoderConfig& config);
  /// z [B, latent_channels, s, s] → images [B, out_channels, s·f, s·f]
  torch::Tensor forward(const torch::Tensor& z);

 private:
  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  MidBlock2D mid_block{nullptr};
  torch::nn::ModuleList up_blocks;
  std::vector<CoderLevel> levels_;
  NormLayer conv_norm_out_;
};
TORCH_MODULE(VAEDecoder);

}  // namespace ddpm

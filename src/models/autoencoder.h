// The autoencoder of latent diffusion (Rombach et al. 2022): diffusers 0.21.4 AutoencoderKL
// (src/diffusers/models/autoencoder_kl.py) and VQModel (vq_model.py) as one module, the kind
// chosen by its config; parameter names are diffusers' (encoder.*, quant_conv, quantize.*,
// post_quant_conv, decoder.*), so a diffusers state dict loads key for key.
//
//   AutoencoderKL: moments = quant_conv(encoder(x)); mean, logvar = chunk(moments, 2) with logvar
//                  clamped to [−30, 20] (DiagonalGaussianDistribution); decode(z) =
//                  decoder(post_quant_conv(z)).
//   VQModel:       latents = quant_conv(encoder(x)); decode(h) = decoder(post_quant_conv(
//                  quantize(h))): the quantizer runs inside decode, as in diffusers.
//
//   Autoencoder ae(config);
//   auto enc = ae->encode(x);         // x [B, C, S, S] in [-1, 1]
//   auto rec = ae->decode(enc.mean);  // [B, C, S, S]
#pragma once
#include <torch/torch.h>

#include "models/autoencoder_config.h"
#include "models/vae.h"
#include "models/vector_quantizer.h"

namespace ddpm {

struct AutoencoderEncoding {
  /// KL: the posterior mean; VQ: encoder + quant_conv output (before quantization).
  /// [B, latent_channels (VQ: codebook width), S/f, S/f]
  torch::Tensor mean;
  /// KL: the posterior log-variance, clamped to [−30, 20]; VQ: undefined.
  torch::Tensor logvar;
};

class AutoencoderImpl : public torch::nn::Module {
 public:
  explicit AutoencoderImpl(const AutoencoderConfig& config);
  /// images [B, in_channels, S, S] in [-1, 1] → the latent distribution (KL) or latents (VQ)
  AutoencoderEncoding encode(const torch::Tensor& x);
  /// latents → images [B, out_channels, S, S]; VQ quantizes first.
  torch::Tensor decode(const torch::Tensor& z);
  /// VQ: the quantizer's output for latents `z` (for training and the quantized tensor).
  QuantizerOutput quantize(const torch::Tensor& z);
  /// VQ: decoder(post_quant_conv(q)) of already-quantized latents.
  torch::Tensor decode_quantized(const torch::Tensor& q);
  const AutoencoderConfig& config() const { return config_; }
  /// Records LDM's scale-by-std result (the weights do not change).
  void set_scaling_factor(double factor);

 private:
  AutoencoderConfig config_;
  VAEEncoder encoder{nullptr};
  VAEDecoder decoder{nullptr};
  torch::nn::Conv2d quant_conv{nullptr}, post_quant_conv{nullptr};
  VectorQuantizer quantize_{nullptr};
};
TORCH_MODULE(Autoencoder);

}  // namespace ddpm

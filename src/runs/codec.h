// The codec between images and the space the diffusion model works in ("model space"): pixel
// normalization ([-1, 1] as DDPM, or the Keras example's mean-std), or the latents of an
// autoencoder (latent diffusion, Rombach et al. 2022). A loaded model owns one; training encodes
// its images through it, sampling, the experiments and evaluation decode through it, and nothing
// else normalizes.
//
//   Codec pixels(NormalizationParams{});                 // x/127.5 − 1
//   Codec latents(load_autoencoder("vae", cpu), 0.18215); // z · 0.18215, decode(z / 0.18215)
//   auto x0 = codec.encode(uint8_images);                 // float [N, C', s, s]
//   auto png = codec.to_uint8(samples);                   // uint8 [N, C, S, S] on the CPU
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "data/transforms.h"
#include "models/autoencoder.h"

namespace ddpm {

class Codec {
 public:
  /// Pixels, normalized as `pixels`.
  explicit Codec(NormalizationParams pixels = {});
  /// Latents of `autoencoder` (which sees images in [-1, 1]): encode gives the posterior mean
  /// (KL) or the pre-quantization latents (VQ) times `latent_scale`; decode divides by it first.
  /// LDM's VQ pipelines use 1, Stable Diffusion's KL ones the VAE's scaling_factor.
  Codec(Autoencoder autoencoder, double latent_scale);

  bool is_latent() const { return !autoencoder_.is_empty(); }
  /// "pixels [-1,1]", "pixels mean-std", or "AutoencoderKL latents ×0.18215".
  std::string describe() const;

  /// uint8 images [N, C, S, S] → model space, float32 [N, C', S/f, S/f]: on the autoencoder's
  /// device for latents, on the images' device for pixels. Latents are computed without
  /// gradients, 32 images at a time.
  torch::Tensor encode(const torch::Tensor& images) const;
  /// Model space [N, C', s, s] → images as float [N, C, s·f, s·f] in the pixel normalization
  /// (latents: the decoder's output in [-1, 1], unclamped), on the input's device.
  torch::Tensor decode(const torch::Tensor& x) const;
  /// Model space → uint8 images on the CPU (decode, then clamped and rounded). NaNs become 0.
  torch::Tensor to_uint8(const torch::Tensor& x) const;

  /// The normalization of decode()'s output.
  const NormalizationParams& pixels() const { return pixels_; }
  /// Undefined (is_empty()) for pixels.
  const Autoencoder& autoencoder() const { return autoencoder_; }
  double latent_scale() const { return latent_scale_; }
  /// Pixels per model-space position along a side (1 for pixels).
  int64_t downsample() const;
  /// {C, S, S} of the images decoded from model-space samples of `channels` × `size`².
  std::vector<int64_t> image_shape(int64_t channels, int64_t size) const;

 private:
  NormalizationParams pixels_;
  Autoencoder autoencoder_{nullptr};
  double latent_scale_ = 1.0;
};

}  // namespace ddpm

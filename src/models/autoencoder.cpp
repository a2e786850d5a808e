#include "models/autoencoder.h"

namespace ddpm {

namespace {

torch::nn::Conv2d conv1x1(int64_t in, int64_t out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1));
}

}  // namespace

AutoencoderImpl::AutoencoderImpl(const AutoencoderConfig& c) : config_(c) {
  validate(c);
  const int64_t z = c.latent_channels;
  if (c.kind == AutoencoderKind::kl) {
    // AutoencoderKL.__init__ registration order.
    encoder = register_module("encoder", VAEEncoder(c, /*double_z=*/true));
    decoder = register_module("decoder", VAEDecoder(c));
    quant_conv = register_module("quant_conv", conv1x1(2 * z, 2 * z));
    post_quant_conv = register_module("post_quant_conv", conv1x1(z, z));
  } else {
    // VQModel.__init__ registration order.
    const int64_t d = codebook_dim(c);
    encoder = register_module("encoder", VAEEncoder(c, /*double_z=*/false));
    quant_conv = register_module("quant_conv", conv1x1(z, d));
    quantize_ = register_module("quantize", VectorQuantizer(c.num_vq_embeddings, d));
    post_quant_conv = register_module("post_quant_conv", conv1x1(d, z));
    decoder = register_module("decoder", VAEDecoder(c));
  }
}

AutoencoderEncoding AutoencoderImpl::encode(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == config_.in_channels,
              "the autoencoder expects images [B, ", config_.in_channels, ", H, W], got ",
              x.sizes());
  const int64_t f = downsample_factor(config_);
  TORCH_CHECK(x.size(2) % f == 0 && x.size(3) % f == 0, "the autoencoder downsamples ", f,
              "x: image sides must be multiples of ", f, ", got ", x.sizes());
  auto moments = quant_conv(encoder(x));  // KL: [B, 2·z, h, w]; VQ: [B, d, h, w]
  AutoencoderEncoding out;
  if (config_.kind == AutoencoderKind::vq) {
    out.mean = moments;
    return out;
  }
  auto parts = moments.chunk(2, 1);
  out.mean = parts[0];                               // [B, z, h, w]
  out.logvar = torch::clamp(parts[1], -30.0, 20.0);  // DiagonalGaussianDistribution
  return out;
}

void AutoencoderImpl::set_scaling_factor(double factor) {
  TORCH_CHECK(factor > 0 && std::isfinite(factor), "scaling_factor must be positive, got ", factor);
  config_.scaling_factor = factor;
}

QuantizerOutput AutoencoderImpl::quantize(const torch::Tensor& z) {
  TORCH_CHECK(!quantize_.is_empty(),
              "quantize: this autoencoder is an AutoencoderKL (no codebook)");
  return quantize_(z);
}

torch::Tensor AutoencoderImpl::decode_quantized(const torch::Tensor& q) {
  return decoder(post_quant_conv(q));  // [B, out, S, S]
}

torch::Tensor AutoencoderImpl::decode(const torch::Tensor& z) {
  const int64_t want =
      config_.kind == AutoencoderKind::vq ? codebook_dim(config_) : config_.latent_channels;
  TORCH_CHECK(z.dim() == 4 && z.size(1) == want, "the autoencoder decodes latents [B, ", want,
              ", h, w], got ", z.sizes());
  if (config_.kind == AutoencoderKind::vq) return decode_quantized(quantize_(z).quantized);
  return decoder(post_quant_conv(z));  // [B, out, S, S]
}

}  // namespace ddpm

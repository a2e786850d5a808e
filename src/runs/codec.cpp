#include "runs/codec.h"

#include <fmt/format.h>

namespace ddpm {

namespace {

constexpr int64_t kChunk = 32;  // images per autoencoder call: bounds the activations' memory

torch::Device module_device(const torch::nn::Module& m) {
  for (const auto& p : m.parameters()) return p.device();
  return torch::kCPU;
}

}  // namespace

Codec::Codec(NormalizationParams pixels) : pixels_(std::move(pixels)) {}

Codec::Codec(Autoencoder autoencoder, double latent_scale)
    : autoencoder_(std::move(autoencoder)), latent_scale_(latent_scale) {
  TORCH_CHECK(!autoencoder_.is_empty(), "Codec: no autoencoder given");
  TORCH_CHECK(latent_scale > 0 && std::isfinite(latent_scale),
              "Codec: the latent scale must be positive, got ", latent_scale);
}

std::string Codec::describe() const {
  if (!is_latent()) return "pixels " + to_string(pixels_.kind);
  const auto& c = autoencoder_->config();
  return fmt::format("{} latents {}×{}×{} (×{:g})",
                     c.kind == AutoencoderKind::kl ? "AutoencoderKL" : "VQModel",
                     latent_shape(c)[0], latent_shape(c)[1], latent_shape(c)[2], latent_scale_);
}

int64_t Codec::downsample() const {
  return is_latent() ? downsample_factor(autoencoder_->config()) : 1;
}

std::vector<int64_t> Codec::image_shape(int64_t channels, int64_t size) const {
  if (!is_latent()) return {channels, size, size};
  return {autoencoder_->config().out_channels, size * downsample(), size * downsample()};
}

torch::Tensor Codec::encode(const torch::Tensor& images) const {
  if (!is_latent()) return normalize(images, pixels_);
  torch::NoGradGuard no_grad;
  const auto device = module_device(*autoencoder_);
  Autoencoder ae = autoencoder_;  // the holder's -> is const; the module is not changed
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < images.size(0); i += kChunk) {
    auto x = normalize(images.slice(0, i, i + kChunk), pixels_).to(device);  // [b, C, S, S]
    parts.push_back(ae->encode(x).mean * latent_scale_);                     // [b, C', s, s]
  }
  if (parts.empty()) {
    const auto shape = latent_shape(autoencoder_->config());
    return torch::empty({0, shape[0], shape[1], shape[2]}, torch::TensorOptions(device));
  }
  return torch::cat(parts);
}

torch::Tensor Codec::decode(const torch::Tensor& x) const {
  if (!is_latent()) return x;
  torch::NoGradGuard no_grad;
  const auto device = module_device(*autoencoder_);
  Autoencoder ae = autoencoder_;
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < x.size(0); i += kChunk) {
    auto z = x.slice(0, i, i + kChunk).to(device, torch::kFloat32) / latent_scale_;
    parts.push_back(ae->decode(z).to(x.device()));  // [b, C, S, S]
  }
  if (parts.empty()) {
    const auto& c = autoencoder_->config();
    return torch::empty({0, c.out_channels, c.sample_size, c.sample_size}, x.options());
  }
  return torch::cat(parts);
}

torch::Tensor Codec::to_uint8(const torch::Tensor& x) const {
  return denormalize_to_uint8(decode(x).to(torch::kFloat32).nan_to_num(0.0), pixels_);
}

}  // namespace ddpm

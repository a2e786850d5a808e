#include "pipeline/autoencode.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ddpm {

torch::Tensor read_autoencode_input(const std::filesystem::path& file,
                                    const AutoencoderConfig& config) {
  const auto tensors = read_safetensors(file).tensors;
  auto it = tensors.find("x");
  if (it == tensors.end()) {
    std::vector<std::string> names;
    for (const auto& [n, t] : tensors) names.push_back(n);
    throw std::runtime_error(
        fmt::format("{}: no tensor named x (found: {})", file.string(),
                    names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
  }
  const auto& x = it->second;
  const int64_t f = downsample_factor(config);
  if (!x.is_floating_point() || x.dim() != 4 || x.size(0) < 1 || x.size(1) != config.in_channels ||
      x.size(2) < f || x.size(2) % f != 0 || x.size(3) < f || x.size(3) % f != 0 ||
      x.size(2) > 8192 || x.size(3) > 8192)
    throw std::runtime_error(fmt::format(
        "{}: x must be a float tensor [B, {}, H, W] with B >= 1 and H, W multiples of {} (the "
        "autoencoder's downsample factor) up to 8192, found {} [{}]",
        file.string(), config.in_channels, f, c10::toString(x.scalar_type()),
        fmt::join(x.sizes(), ", ")));
  auto out = x.to(torch::kFloat32);
  if (!out.isfinite().all().item<bool>())
    throw std::runtime_error(file.string() + ": x holds NaN or infinite values");
  return out;
}

TensorMap autoencode(Autoencoder& autoencoder, const torch::Tensor& x, int64_t batch_size) {
  TORCH_CHECK(batch_size >= 1, "autoencode: batch_size must be >= 1");
  torch::NoGradGuard no_grad;
  const auto device = autoencoder->parameters().front().device();
  const bool vq = autoencoder->config().kind == AutoencoderKind::vq;
  std::map<std::string, std::vector<torch::Tensor>> parts;
  for (int64_t i = 0; i < x.size(0); i += batch_size) {
    auto batch = x.slice(0, i, i + batch_size).to(device);  // [b, C, H, W]
    const auto enc = autoencoder->encode(batch);
    auto keep = [&](const char* name, const torch::Tensor& t) {
      parts[name].push_back(t.to(torch::kCPU, torch::kFloat32));
    };
    if (vq) {
      keep("latents", enc.mean);
      const auto q = autoencoder->quantize(enc.mean);
      keep("quantized", q.quantized);
      keep("reconstruction", autoencoder->decode_quantized(q.quantized));
    } else {
      keep("latent_mean", enc.mean);
      keep("latent_logvar", enc.logvar);
      keep("reconstruction", autoencoder->decode(enc.mean));
    }
  }
  TensorMap out;
  for (auto& [name, list] : parts) out.emplace(name, torch::cat(list));
  return out;
}

}  // namespace ddpm

#include "training/latent_cache.h"

#include <fmt/format.h>

#include "io/content_hash.h"
#include "io/safetensors.h"
#include "models/state_dict.h"

namespace ddpm {

namespace {

constexpr int64_t kBlock = 512;  // images per progress report
constexpr const char* kKey = "latent_cache_key";

uint64_t hash_tensor(const torch::Tensor& t, uint64_t h) {
  const auto c = t.detach().to(torch::kCPU).contiguous();
  return fnv1a(std::string_view(static_cast<const char*>(c.data_ptr()), c.nbytes()), h);
}

}  // namespace

std::string latent_cache_key(const Codec& codec, const torch::Tensor& images) {
  TORCH_CHECK(codec.is_latent(), "latent_cache_key: the codec has no autoencoder");
  uint64_t h = fnv1a("ddpm latent cache v1");
  for (const auto& [name, tensor] : state_dict(*codec.autoencoder())) {
    h = fnv1a(name, h);
    h = hash_tensor(tensor, h);
  }
  h = fnv1a(fmt::format("scale {:.17g} shape {}", codec.latent_scale(), c10::str(images.sizes())),
            h);
  h = hash_tensor(images, h);
  return fmt::format("{:016x}", h);
}

torch::Tensor cached_latents(const std::filesystem::path& file, const Codec& codec,
                             const torch::Tensor& images,
                             const std::function<void(int64_t, int64_t)>& progress) {
  const std::string key = latent_cache_key(codec, images);
  if (std::filesystem::is_regular_file(file)) {
    try {
      auto cached = read_safetensors(file);
      auto it = cached.tensors.find("latents");
      if (cached.metadata.count(kKey) && cached.metadata.at(kKey) == key &&
          it != cached.tensors.end() && it->second.size(0) == images.size(0))
        return it->second.to(torch::kFloat32);
    } catch (const std::exception&) {
      // unreadable (a kill mid-write of an older version, a disk fault): recompute below
    }
  }
  std::vector<torch::Tensor> parts;
  const int64_t n = images.size(0);
  for (int64_t i = 0; i < n; i += kBlock) {
    parts.push_back(
        codec.encode(images.slice(0, i, std::min(n, i + kBlock))).to(torch::kCPU, torch::kFloat32));
    if (progress) progress(std::min(n, i + kBlock), n);
  }
  auto latents = parts.empty() ? torch::empty({0}) : torch::cat(parts);
  write_safetensors(file, {{"latents", latents}}, {{kKey, key}});
  return latents;
}

}  // namespace ddpm

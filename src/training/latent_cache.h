// The training images' latents, computed once per autoencoder and data and kept in the run folder
// (RUN/latents.safetensors), so latent diffusion training costs only the UNet: one encoder pass
// over the data instead of one per step.
//
//   auto z = cached_latents(run / "latents.safetensors", codec, data.train);  // [N, C', s, s]
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <string>

#include "runs/codec.h"

namespace ddpm {

/// What the cache is keyed by: FNV-1a over the autoencoder's weights (names and bytes), the
/// latent scale, and the images' bytes and shape. Any change recomputes the latents.
std::string latent_cache_key(const Codec& codec, const torch::Tensor& images);

/// codec.encode(images) as float32 on the CPU, [N, C', s, s]: read from `file` when its
/// metadata holds latent_cache_key(codec, images), otherwise computed (`progress(done, total)`
/// after every block of images) and written there atomically. A cache file that is unreadable or
/// keyed differently is recomputed, never trusted.
torch::Tensor cached_latents(const std::filesystem::path& file, const Codec& codec,
                             const torch::Tensor& images,
                             const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace ddpm

// Where a sampler's randomness comes from (DESIGN: randomness arrives as a generator, never from
// a global RNG). A request's images each own a generator seeded seed + i, from which image i draws
// its x_T and then every noise its sampler needs, so an image is the same whatever batch it was
// drawn in, on every device (draws happen on the CPU), and image i alone can be re-created.
//
//   auto gens = image_generators(seed, /*first=*/0, /*count=*/8);
//   auto x_T = draw_per_image(gens, {1, 8, 8}, device);   // [8, 1, 8, 8]
//   auto x_0 = run_sampler(config, {denoise, schedule, prediction, per_image_noise(gens)}, x_T);
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "samplers/denoise_fn.h"

namespace ddpm {

/// Generators of images first … first + count − 1 of a request with `seed` (image i: seed + i).
std::vector<torch::Generator> image_generators(uint64_t seed, int64_t first, int64_t count);

/// One standard normal draw per generator, each of `shape` (one image), stacked to
/// [gens.size(), shape...] float32 on `device`.
torch::Tensor draw_per_image(std::vector<torch::Generator>& gens, torch::IntArrayRef shape,
                             const torch::Device& device);

/// Noise whose row i comes from gens[i]; the batch of `like` must have gens.size() rows.
NoiseFn per_image_noise(std::vector<torch::Generator> gens);

/// Noise for the whole batch from one generator (one draw of like's shape).
NoiseFn batch_noise(torch::Generator generator);

/// One draw [1, ...] from `generator` added to every row alike, so that rows differ only by where
/// they started (the rows of an interpolation figure).
NoiseFn shared_noise(torch::Generator generator);

}  // namespace ddpm

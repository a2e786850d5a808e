#include "samplers/noise_source.h"

namespace ddpm {

std::vector<torch::Generator> image_generators(uint64_t seed, int64_t first, int64_t count) {
  TORCH_CHECK(first >= 0 && count >= 0, "image_generators: first and count must be >= 0");
  std::vector<torch::Generator> gens;
  gens.reserve(size_t(count));
  for (int64_t i = 0; i < count; ++i)
    gens.push_back(at::detail::createCPUGenerator(seed + uint64_t(first + i)));
  return gens;
}

torch::Tensor draw_per_image(std::vector<torch::Generator>& gens, torch::IntArrayRef shape,
                             const torch::Device& device) {
  TORCH_CHECK(!gens.empty(), "draw_per_image: no generators");
  std::vector<torch::Tensor> rows;
  rows.reserve(gens.size());
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  for (auto& g : gens) rows.push_back(torch::randn(shape, g, f32));
  return torch::stack(rows).to(device);
}

NoiseFn per_image_noise(std::vector<torch::Generator> gens) {
  return [gens](const torch::Tensor& like) mutable {
    TORCH_CHECK(like.size(0) == int64_t(gens.size()), "per-image noise for ", gens.size(),
                " images asked for a batch of ", like.size(0));
    auto shape = like.sizes().slice(1);
    return draw_per_image(gens, shape, like.device()).to(like.scalar_type());
  };
}

NoiseFn batch_noise(torch::Generator generator) {
  return [generator](const torch::Tensor& like) mutable { return draw_noise(like, generator); };
}

NoiseFn shared_noise(torch::Generator generator) {
  return [generator](const torch::Tensor& like) mutable {
    auto one = like.sizes().vec();
    one[0] = 1;
    return draw_noise(one, like.options(), generator).expand_as(like);
  };
}

}  // namespace ddpm

#include "samplers/denoise_fn.h"

namespace ddpm {

torch::Tensor step_labels(double t, int64_t batch, const torch::Device& device) {
  return torch::full({batch}, t, torch::TensorOptions().dtype(torch::kFloat32).device(device));
}

torch::Tensor draw_noise(torch::IntArrayRef shape, const torch::TensorOptions& options,
                         torch::Generator& generator) {
  auto z = torch::randn(shape, generator, torch::TensorOptions().dtype(torch::kFloat32));
  return z.to(options.device(), options.dtype());
}

torch::Tensor draw_noise(const torch::Tensor& like, torch::Generator& generator) {
  return draw_noise(like.sizes(), like.options(), generator);
}

}  // namespace ddpm

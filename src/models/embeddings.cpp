#include "models/embeddings.h"

#include <cmath>

namespace ddpm {

torch::Tensor timestep_embedding(const torch::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos,
                                 double downscale_freq_shift, double scale, double max_period) {
  TORCH_CHECK(timesteps.dim() == 1, "timestep_embedding expects timesteps of shape [B], got ",
              timesteps.sizes());
  TORCH_CHECK(dim >= 2, "timestep_embedding needs dim >= 2, got ", dim);
  const int64_t half = dim / 2;
  TORCH_CHECK(double(half) != downscale_freq_shift, "timestep_embedding: downscale_freq_shift ",
              downscale_freq_shift, " equals half the dimension");
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(timesteps.device());
  // Computed in float32 exactly as diffusers does, so embeddings agree to the last bit or so.
  auto exponent = -std::log(max_period) * torch::arange(0, half, f32);
  exponent = exponent / (double(half) - downscale_freq_shift);
  auto freqs = torch::exp(exponent);                                            // [half]
  auto args = timesteps.to(torch::kFloat32).unsqueeze(1) * freqs.unsqueeze(0);  // [B, half]
  args = scale * args;
  auto emb = torch::cat({torch::sin(args), torch::cos(args)}, 1);  // [B, 2·half]
  if (flip_sin_to_cos) emb = torch::cat({emb.slice(1, half), emb.slice(1, 0, half)}, 1);
  if (dim % 2 == 1) emb = torch::constant_pad_nd(emb, {0, 1});  // [B, dim]
  return emb;
}

torch::Tensor noise_variance_embedding(const torch::Tensor& variance, int64_t dim) {
  TORCH_CHECK(variance.dim() == 1, "noise_variance_embedding expects variances of shape [B], got ",
              variance.sizes());
  TORCH_CHECK(dim >= 2 && dim % 2 == 0, "noise_variance_embedding needs an even dim >= 2, got ",
              dim);
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(variance.device());
  // Keras: embedding_min_frequency = 1.0, embedding_max_frequency = 1000.0.
  auto freqs = torch::exp(torch::linspace(std::log(1.0), std::log(1000.0), dim / 2, f32));
  auto angular_speeds = 2.0 * M_PI * freqs;  // [dim/2]
  auto args =
      variance.to(torch::kFloat32).unsqueeze(1) * angular_speeds.unsqueeze(0);  // [B, dim/2]
  return torch::cat({torch::sin(args), torch::cos(args)}, 1);                   // [B, dim]
}

TimestepEmbeddingImpl::TimestepEmbeddingImpl(int64_t in_channels, int64_t time_embed_dim) {
  linear_1 = register_module("linear_1", torch::nn::Linear(in_channels, time_embed_dim));
  linear_2 = register_module("linear_2", torch::nn::Linear(time_embed_dim, time_embed_dim));
}

torch::Tensor TimestepEmbeddingImpl::forward(const torch::Tensor& sample) {
  return linear_2(torch::silu(linear_1(sample)));  // [B, time_embed_dim]
}

}  // namespace ddpm

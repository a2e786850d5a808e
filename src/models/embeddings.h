// Embeddings of the conditioning scalar.
//
// timestep_embedding: diffusers 0.21.4 get_timestep_embedding (src/diffusers/models/
// embeddings.py), the Transformer sinusoid as DDPM uses it (diffusion_tf/nn.py
// get_timestep_embedding: flip_sin_to_cos = false, downscale_freq_shift = 1).
// noise_variance_embedding: the Keras DDIM example's sinusoidal_embedding (A. Béres,
// keras.io/examples/generative/ddim), frequencies log-spaced in [1, 1000].
// TimestepEmbedding: diffusers' linear_1 → SiLU → linear_2 MLP (DDPM's temb dense0/dense1).
#pragma once
#include <torch/torch.h>

namespace ddpm {

/// Positional embedding of t [B] (any real dtype) → [B, dim] float32:
/// e_i = exp(−ln(max_period)·i/(half − downscale_freq_shift)), i < half = dim/2;
/// [sin(scale·t·e), cos(scale·t·e)], halves swapped when flip_sin_to_cos; odd dim zero-padded.
torch::Tensor timestep_embedding(const torch::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos,
                                 double downscale_freq_shift, double scale = 1.0,
                                 double max_period = 10000.0);

/// Keras sinusoidal embedding of the noise variance v [B] → [B, dim] float32 (dim even):
/// f = exp(linspace(ln 1, ln 1000, dim/2)), ω = 2π f, [sin(ω v), cos(ω v)].
torch::Tensor noise_variance_embedding(const torch::Tensor& variance, int64_t dim);

/// The MLP that lifts a sinusoidal embedding to the per-block time embedding.
class TimestepEmbeddingImpl : public torch::nn::Module {
 public:
  TimestepEmbeddingImpl(int64_t in_channels, int64_t time_embed_dim);
  /// [B, in_channels] → [B, time_embed_dim]
  torch::Tensor forward(const torch::Tensor& sample);

 private:
  torch::nn::Linear linear_1{nullptr}, linear_2{nullptr};
};
TORCH_MODULE(TimestepEmbedding);

}  // namespace ddpm

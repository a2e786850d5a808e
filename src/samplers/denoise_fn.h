// The contract between samplers and networks: a sampler never knows what a UNet is
// (stable-diffusion.cpp's denoise_cb_t). Randomness arrives as a torch::Generator.
#pragma once
#include <torch/torch.h>

#include <functional>

namespace ddpm {

/// Model output at (x_t [B, C, H, W], t [B] int64 step indices). What the output means (ε, x_0
/// or v) is the sampler's PredictionType option.
using DenoiseFn = std::function<torch::Tensor(const torch::Tensor& x_t, const torch::Tensor& t)>;

/// One reverse step as a sampler reports it.
struct SamplerStep {
  int64_t index = 0;      ///< 0-based position in the chain
  int64_t num_steps = 0;  ///< length of the chain
  int64_t t = 0;          ///< training step index of x_t
  torch::Tensor x_t;      ///< the sample entering the step    [B, C, H, W]
  torch::Tensor pred_x0;  ///< the model's x_0 estimate at t    [B, C, H, W]
  torch::Tensor x_prev;   ///< the sample leaving the step      [B, C, H, W]
};
/// Called after every step (progress bars, trajectories); may be empty.
using StepCallback = std::function<void(const SamplerStep&)>;

/// Standard normal noise shaped like `like`, drawn on the CPU from `generator` and moved to
/// `like`'s device, so that one seed gives the same images on every device.
torch::Tensor draw_noise(const torch::Tensor& like, torch::Generator& generator);
torch::Tensor draw_noise(torch::IntArrayRef shape, const torch::TensorOptions& options,
                         torch::Generator& generator);

}  // namespace ddpm

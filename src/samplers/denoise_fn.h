// The contract between samplers and networks: a sampler never knows what a UNet is
// (stable-diffusion.cpp's denoise_cb_t, k-diffusion's denoiser). Time is continuous: DDPM and
// DDIM ask at integer training steps, sigma samplers (Euler, Heun with Karras σ) at fractional
// ones, as diffusers 0.21.4 does. Randomness arrives as a NoiseFn (samplers/noise_source.h).
#pragma once
#include <torch/torch.h>

#include <functional>

namespace ddpm {

/// Model output at (x_t [B, C, H, W] in the model's variance-preserving scaling, t [B] float32
/// step labels in [0, T − 1], fractional allowed). What the output means (ε, x_0 or v) is the
/// sampler's PredictionType option.
using DenoiseFn = std::function<torch::Tensor(const torch::Tensor& x_t, const torch::Tensor& t)>;

/// Standard normal noise shaped like `like`, on like's device and dtype.
using NoiseFn = std::function<torch::Tensor(const torch::Tensor& like)>;

/// t as the [B] float32 label tensor a DenoiseFn takes, on `device`.
torch::Tensor step_labels(double t, int64_t batch, const torch::Device& device);

/// One reverse step as a sampler reports it. Samples are in the model's variance-preserving
/// scaling whatever the sampler's internal one (sigma samplers divide by √(σ² + 1)).
struct SamplerStep {
  int64_t index = 0;      ///< 0-based position in the chain
  int64_t num_steps = 0;  ///< length of the chain
  double t = 0;           ///< step label of x_t (fractional for sigma samplers)
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

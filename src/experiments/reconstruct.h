// How much of an image survives t steps of diffusion (the report's Figure 8, after DDPM §4.3 and
// its Figure 7 "samples conditioned on the same latent"): real images x_0 are diffused to step t
// with q(x_t|x_0) (DDPM eq. 4), several independent draws per image, and each x_t is denoised back
// to a sample of p_θ(x_0|x_t). Small t gives the image back; as t grows only coarse attributes
// survive, and at t = T nothing of the image does.
//
//   ReconstructRequest r;  r.from_steps = {100, 500, 1000};  r.per_image = 3;
//   auto rec = reconstruct(denoise, schedule, prediction, sampling, x0, normalization, r, gen);
//   rec.mse[i]: mean squared error to the originals at from_steps[i], pixels scaled to [0, 1]
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "core/noise_schedule.h"
#include "runs/codec.h"
#include "runs/run_config.h"
#include "samplers/denoise_fn.h"

namespace ddpm {

struct ReconstructRequest {
  /// Start steps t in the paper's numbering, 1..T (index t − 1 of the schedule).
  std::vector<int64_t> from_steps = {100, 250, 500, 750, 1000};
  /// Independent forward draws (and reverse chains) per image.
  int64_t per_image = 3;
  /// Reverse steps from each t: 0 runs every step t−1, …, 0 (DDPM's chain); otherwise that many,
  /// evenly spaced (chain_from).
  int64_t steps = 0;
};

struct Reconstruction {
  /// x_t of each image's first draw, float32 CPU [R, N, C, H, W] (R = from_steps.size()).
  torch::Tensor noisy;
  /// The denoised draws, float32 CPU [R, N, K, C, H, W] (K = per_image).
  torch::Tensor samples;
  /// Per start step: mean over images, draws and pixels of ((x̂ − x_0)/255)² on the uint8 images.
  std::vector<double> mse;
};

/// Progress: index of the start step, their count, and the sampler's step.
using ReconstructProgress = std::function<void(int64_t row, int64_t rows, const SamplerStep&)>;

/// x0: float [N, C, H, W] in model space. Draws, in order for each start step: the forward noise
/// for all N·K copies (images repeated K times each), then the sampler's own. Throws for a start
/// step outside [1, T] or per_image < 1.
Reconstruction reconstruct(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                           PredictionType prediction, const SamplingConfig& sampling,
                           const torch::Tensor& x0, const Codec& codec,
                           const ReconstructRequest& request, torch::Generator& generator,
                           const ReconstructProgress& progress = {});

/// The figure's cells [1 + R, N·(1 + K), C, H, W]: the top row has each original followed by K
/// empty cells; row 1 + r has, per image, x_t then the K reconstructions from from_steps[r].
torch::Tensor reconstruction_tiles(const torch::Tensor& x0, const Reconstruction& reconstruction);

}  // namespace ddpm

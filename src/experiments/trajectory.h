// The sampling chain as a picture (the report's Figures 7 and 17): for each sample, the states
// x_T, …, x_0 the sampler passes through and, optionally, the x̂_0 it predicts at each of them
// (DDPM eq. 15 / DDIM eq. 12's "predicted x_0"), with at most ~20 evenly picked columns for long
// chains (DDPM-1000).
//
//   TrajectoryRequest r;  r.max_columns = 20;
//   auto traj = sample_trajectory({denoise, schedule, prediction, per_image_noise(gens)},
//                                 sampling.sampler, x_T, r);
//   traj.x_t: [N, K, C, H, W] with traj.x_t[:, 0] == x_T and traj.x_t[:, K−1] the final sample
#pragma once
#include <torch/torch.h>

#include <vector>

#include "core/noise_schedule.h"
#include "samplers/sampler_registry.h"

namespace ddpm {

/// Which of the chain's `num_states` states (0 = x_T, …, num_states − 1 = x_0) to show: all when
/// they fit in max_columns, else max_columns of them evenly spaced (rounded), always the first
/// and the last. Throws for num_states < 1 or max_columns < 2.
std::vector<int64_t> trajectory_columns(int64_t num_states, int64_t max_columns);

struct TrajectoryRequest {
  /// Most columns shown; 20 keeps a 32-px strip under 700 px wide.
  int64_t max_columns = 20;
};

struct Trajectory {
  /// The chain at the picked states: x_T first, the final sample last. float32 CPU [N, K, C, H, W].
  torch::Tensor x_t;
  /// x̂_0 predicted from each picked state; the last column (the chain's end, where no prediction
  /// is made) holds the final sample itself. float32 CPU [N, K, C, H, W].
  torch::Tensor pred_x0;
  /// Picked state indices, 0..S (S = number of steps).
  std::vector<int64_t> states;
  /// The step label t of each picked state (the t the sampler evaluated there); −1 for x_0.
  std::vector<double> timesteps;
};

/// Runs `sampler` from unit-variance x_T with inputs.noise — the same draws as generate() when
/// that is per_image_noise of the request's generators — and keeps the picked states.
/// inputs.on_step sees every step.
Trajectory sample_trajectory(const SamplerInputs& inputs, const SamplerConfig& sampler,
                             const torch::Tensor& x_T, const TrajectoryRequest& request = {});

}  // namespace ddpm

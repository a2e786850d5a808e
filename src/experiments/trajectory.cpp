#include "experiments/trajectory.h"

#include <algorithm>

namespace ddpm {

std::vector<int64_t> trajectory_columns(int64_t num_states, int64_t max_columns) {
  if (num_states < 1 || max_columns < 2)
    throw std::invalid_argument(
        "trajectory_columns: expected num_states >= 1 and max_columns >= "
        "2, got " +
        std::to_string(num_states) + " and " + std::to_string(max_columns));
  std::vector<int64_t> states;
  if (num_states <= max_columns) {
    for (int64_t i = 0; i < num_states; ++i) states.push_back(i);
    return states;
  }
  for (int64_t i = 0; i < max_columns; ++i)
    states.push_back(std::llround(double(i) * double(num_states - 1) / double(max_columns - 1)));
  states.erase(std::unique(states.begin(), states.end()), states.end());
  return states;
}

Trajectory sample_trajectory(const SamplerInputs& inputs, const SamplerConfig& sampler,
                             const torch::Tensor& x_T, const TrajectoryRequest& request) {
  const auto timesteps = sampler_timesteps(sampler, inputs.schedule);
  const int64_t steps = int64_t(timesteps.size());
  Trajectory out;
  out.states = trajectory_columns(steps + 1, request.max_columns);
  std::vector<torch::Tensor> x_cols(out.states.size()), x0_cols(out.states.size());
  auto slot = [&](int64_t state) -> int64_t {
    auto it = std::lower_bound(out.states.begin(), out.states.end(), state);
    return it != out.states.end() && *it == state ? int64_t(it - out.states.begin()) : -1;
  };
  for (int64_t s : out.states) out.timesteps.push_back(s < steps ? timesteps[size_t(s)] : -1.0);
  auto cpu = [](const torch::Tensor& t) { return t.detach().to(torch::kCPU, torch::kFloat32); };
  SamplerInputs watched = inputs;
  watched.on_step = [&](const SamplerStep& s) {
    // Step i leaves state i (x_t) with the prediction x̂_0(x_t).
    if (const int64_t k = slot(s.index); k >= 0) {
      x_cols[size_t(k)] = cpu(s.x_t);
      x0_cols[size_t(k)] = cpu(s.pred_x0);
    }
    if (inputs.on_step) inputs.on_step(s);
  };
  auto final_x = run_sampler(sampler, watched, x_T);
  const int64_t last = slot(steps);
  x_cols[size_t(last)] = cpu(final_x);
  x0_cols[size_t(last)] = cpu(final_x);
  out.x_t = torch::stack(x_cols, 1);       // [N, K, C, H, W]
  out.pred_x0 = torch::stack(x0_cols, 1);  // [N, K, C, H, W]
  return out;
}

}  // namespace ddpm

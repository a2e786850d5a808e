// AdamW (Loshchilov & Hutter 2019, Algorithm 2), matching torch.optim.AdamW step for step:
// p ← p − lr·λ·p; m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; p ← p − lr·m̂/(√v̂ + ε).
// Its own implementation so that its state is a plain TensorMap, saved and restored exactly.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "io/safetensors.h"

namespace ddpm {

struct AdamWOptions {
  double weight_decay = 0.0;  ///< decoupled decay λ
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

class AdamW {
 public:
  /// Parameters by name (the names key the saved state).
  AdamW(std::vector<std::pair<std::string, torch::Tensor>> parameters, AdamWOptions options);

  /// One update with learning rate `lr` from the parameters' current .grad().
  void step(double lr);
  void zero_grad();

  int64_t step_count() const { return step_count_; }
  /// "<name>.exp_avg", "<name>.exp_avg_sq" for each parameter, and "step" (int64 scalar).
  TensorMap state() const;
  /// Restores state(); throws naming a missing or mis-shaped entry.
  void load_state(const TensorMap& state);

 private:
  std::vector<std::pair<std::string, torch::Tensor>> parameters_;
  std::vector<torch::Tensor> exp_avg_, exp_avg_sq_;
  AdamWOptions options_;
  int64_t step_count_ = 0;
};

/// Linear warmup: lr · min(1, (step + 1)/warmup_steps) (no warmup when warmup_steps is 0).
double warmup_lr(double lr, int64_t step, int64_t warmup_steps);

}  // namespace ddpm

// Dynamic loss scaling for float16 training (Micikevicius et al. 2018, "Mixed Precision
// Training", section 3.2; the policy of torch.cuda.amp.GradScaler): the loss is multiplied by S
// before backward so that small gradients survive float16; the gradients are divided by S before
// clipping and the optimizer step; a step whose gradients hold an inf or NaN is skipped and S
// halved, and S doubles after `growth_interval` finite steps in a row.
//
//   LossScaler scaler(precision == Precision::fp16);
//   scaler.scale(loss).backward();
//   if (scaler.unscale(params)) optimizer.step(lr);   // false: overflow, step skipped
//   scaler.update();
#pragma once
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <vector>

namespace ddpm {

struct LossScalerOptions {
  double initial_scale = 65536.0;  ///< 2^16, GradScaler's init_scale
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
};

class LossScaler {
 public:
  /// A disabled scaler (bf16 or fp32 training) scales by 1 and never skips a step.
  explicit LossScaler(bool enabled, LossScalerOptions options = {});

  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }

  /// loss · S (loss itself when disabled).
  torch::Tensor scale(const torch::Tensor& loss) const;

  /// Divides every defined gradient of `parameters` by S in place and records whether all of
  /// them are finite; returns that (true when disabled, without looking).
  bool unscale(const std::vector<torch::Tensor>& parameters);

  /// After each step: S · backoff when the last unscale() found an inf/NaN, S · growth after
  /// growth_interval finite steps in a row.
  void update();

  /// Steps skipped for overflow since construction (or the restored state).
  int64_t skipped_steps() const { return skipped_; }

  /// {"scale", "good_steps", "skipped_steps"}: kept in a checkpoint's state.json so that a
  /// resumed run scales exactly as a straight one.
  nlohmann::json state() const;
  void load_state(const nlohmann::json& state);

 private:
  bool enabled_;
  LossScalerOptions options_;
  double scale_;
  int64_t good_steps_ = 0;
  int64_t skipped_ = 0;
  bool last_finite_ = true;
};

}  // namespace ddpm

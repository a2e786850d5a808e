// One optimizer step of DDPM Algorithm 1 — the loss on this process's samples, backward, the
// gradients averaged across ranks (a GradientReducer, when data-parallel), unscaled (fp16),
// clipped and checked, AdamW and the EMA — shared by the trainer, the benchmark and the memory
// test. The random draws (t, ε) come in with the batch: the trainer draws them for the whole
// global batch and hands each rank its slice, so N ranks see exactly the draws one process would.
//
//   TrainStep step(model, optimizer, scaler, schedule, options, reducer /* nullptr: 1 process */);
//   auto draws = draw_training_noise(schedule, {B, C, H, W}, noise_generator);
//   StepOutcome out = step.run({x0, draws.t, draws.noise, labels}, lr, &ema, ema_decay);
//   if (!out.bad.empty()) ...   // nothing was updated
#pragma once
#include <torch/torch.h>

#include <string>

#include "core/noise_schedule.h"
#include "core/prediction.h"
#include "models/precision.h"
#include "models/unet.h"
#include "runs/run_config.h"
#include "training/adamw.h"
#include "training/ema.h"
#include "training/gradient_reducer.h"
#include "training/loss_scaler.h"

namespace ddpm {

/// t ~ U{0..T−1} [B] int64 and ε ~ N(0, I) [B, C, H, W] float32, on the CPU, drawn in that order
/// from `generator` (what diffusion_loss draws for itself).
struct TrainingDraws {
  torch::Tensor t;
  torch::Tensor noise;
  /// Rows [begin, begin + count) of both.
  TrainingDraws slice(int64_t begin, int64_t count) const;
};
TrainingDraws draw_training_noise(const NoiseSchedule& schedule, torch::IntArrayRef shape,
                                  torch::Generator& generator);

struct TrainStepOptions {
  PredictionType prediction = PredictionType::epsilon;
  LossType loss = LossType::mse;
  Precision precision = Precision::fp32;
  double grad_clip = 0;  ///< max global gradient norm (0: off)
};

/// This process's share of a step: x0 in model space on the model's device, the matching rows of
/// the draws, class labels (int64 [b], or undefined).
struct StepInputs {
  torch::Tensor x0;
  torch::Tensor t;
  torch::Tensor noise;
  torch::Tensor labels;
};

struct StepOutcome {
  double loss = 0;       ///< mean over the global batch (all ranks)
  double grad_norm = 0;  ///< before clipping; NaN when the loss was not finite
  /// Empty when the step was applied; else what went non-finite first ("loss", a parameter's
  /// name, or "gradient norm"). An fp16 overflow is the loss scaler's to skip, not bad.
  std::string bad;
  bool applied = false;  ///< optimizer and EMA updated
  bool stop = false;     ///< some rank asked to stop after this step (all ranks agree)
};

class TrainStep {
 public:
  TrainStep(UNet model, AdamW& optimizer, LossScaler& scaler, const NoiseSchedule& schedule,
            TrainStepOptions options, GradientReducer* reducer = nullptr);

  /// One step at learning rate `lr`; the EMA (when given) moves by `ema_decay` after an applied
  /// step. `stop_requested`: this rank wants to stop; the outcome's `stop` is the OR over ranks.
  StepOutcome run(const StepInputs& inputs, double lr, EMA* ema = nullptr, double ema_decay = 0,
                  bool stop_requested = false);

 private:
  UNet model_;
  AdamW& optimizer_;
  LossScaler& scaler_;
  const NoiseSchedule& schedule_;
  TrainStepOptions options_;
  GradientReducer* reducer_;
};

}  // namespace ddpm

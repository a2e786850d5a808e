// Exponential moving average of the weights, the copy DDPM and the Keras example evaluate with.
//
// Done right (the study's main finding): the EMA starts as a copy of the model, not a fresh
// init; parameters are averaged, θ_ema ← d θ_ema + (1 − d) θ; buffers — BatchNorm running
// mean/variance and counters — are copied from the online model, never averaged: averaged
// statistics belong to no set of weights and make the EMA model's BatchNorm wrong.
#pragma once
#include <torch/torch.h>

#include "models/unet.h"

namespace ddpm {

class EMA {
 public:
  /// A copy of `model` (same config, weights and buffers), in eval mode for good: it is sampled
  /// from, never trained, so BatchNorm uses its running statistics and dropout is off.
  explicit EMA(UNet& model);

  /// θ_ema ← decay θ_ema + (1 − decay) θ for parameters; buffers copied.
  void update(UNet& model, double decay);

  UNet& model() { return ema_; }

 private:
  UNet ema_{nullptr};
};

/// The decay to use at `step`: min(decay, (1 + step)/(10 + step)) with warmup (as in
/// TensorFlow's ExponentialMovingAverage num_updates), else decay.
/// θ_ema ← decay θ_ema + (1 − decay) θ for the parameters of two modules of one architecture;
/// buffers (BatchNorm running statistics) copied, never averaged.
void ema_update(torch::nn::Module& ema, torch::nn::Module& online, double decay);

double ema_decay_at(double decay, int64_t step, bool warmup);

}  // namespace ddpm

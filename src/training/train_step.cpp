#include "training/train_step.h"

#include <cmath>
#include <limits>

#include "samplers/denoise_fn.h"
#include "training/gradients.h"
#include "training/loss.h"
#include "training/non_finite.h"

namespace ddpm {

TrainingDraws TrainingDraws::slice(int64_t begin, int64_t count) const {
  return {t.narrow(0, begin, count), noise.narrow(0, begin, count)};
}

TrainingDraws draw_training_noise(const NoiseSchedule& schedule, torch::IntArrayRef shape,
                                  torch::Generator& generator) {
  TrainingDraws d;
  d.t = torch::randint(schedule.num_train_timesteps, {shape[0]}, generator,
                       torch::TensorOptions().dtype(torch::kLong));  // t ~ U{0..T−1}  [B]
  d.noise = draw_noise(shape, torch::TensorOptions(), generator);    // ε  [B, C, H, W]
  return d;
}

TrainStep::TrainStep(UNet model, AdamW& optimizer, LossScaler& scaler,
                     const NoiseSchedule& schedule, TrainStepOptions options,
                     GradientReducer* reducer)
    : model_(std::move(model)),
      optimizer_(optimizer),
      scaler_(scaler),
      schedule_(schedule),
      options_(options),
      reducer_(reducer) {}

StepOutcome TrainStep::run(const StepInputs& in, double lr, EMA* ema, double ema_decay,
                           bool stop_requested) {
  StepOutcome out;
  auto loss = diffusion_loss(model_, schedule_, options_.prediction, options_.loss, in.x0, in.t,
                             in.noise, options_.precision, in.labels);
  optimizer_.zero_grad();
  // [loss, stop]: summed across ranks while backward runs (the reducer's first collective).
  auto values = torch::stack({loss.detach().to(torch::kFloat32),
                              torch::full({}, stop_requested ? 1.0f : 0.0f, loss.options())});
  if (reducer_) reducer_->before_backward(values);
  scaler_.scale(loss).backward();
  if (reducer_) reducer_->after_backward();
  const auto host = values.to(torch::kCPU, torch::kFloat64);  // the step's one read of the loss
  const double world = reducer_ ? double(reducer_->world_size()) : 1.0;
  out.loss = host[0].item<double>() / world;
  out.stop = host[1].item<double>() > 0;
  out.grad_norm = std::numeric_limits<double>::quiet_NaN();
  // A bad step (issue 13): the loss or a gradient is not finite; nothing is updated. The loss
  // is float32 in every precision (autocast_forward), so a non-finite one is never the fp16
  // loss scale's doing. Gradients are averaged before this, so every rank decides alike.
  if (!std::isfinite(out.loss)) {
    out.bad = "loss";
    return out;
  }
  // fp16: gradients back to their true size before clipping; an overflowed step is the
  // scaler's to skip (it backs off the scale), not a bad step.
  const bool scaler_finite = scaler_.unscale(model_->parameters());
  out.grad_norm = global_grad_norm(*model_, options_.grad_clip);
  if (scaler_finite && !std::isfinite(out.grad_norm))
    out.bad = first_non_finite(named_gradients(*model_)).value_or("gradient norm");
  if (scaler_finite && out.bad.empty()) {
    optimizer_.step(lr);
    if (ema) ema->update(model_, ema_decay);
    out.applied = true;
  }
  scaler_.update();
  return out;
}

}  // namespace ddpm

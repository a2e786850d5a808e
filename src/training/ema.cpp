#include "training/ema.h"

#include "models/state_dict.h"

namespace ddpm {

EMA::EMA(UNet& model) : ema_(UNet(model->config())) {
  load_state_dict(*ema_, state_dict(*model), "EMA copy");
  ema_->to(model->parameters().front().device());
  for (auto& p : ema_->parameters()) p.set_requires_grad(false);
  // The EMA copy is only ever evaluated: BatchNorm must use (and not update) the running
  // statistics, and dropout must be off, when training draws grids or measures KID with it.
  ema_->eval();
}

void EMA::update(UNet& model, double decay) {
  ema_update(*ema_, *model, decay);
}

void ema_update(torch::nn::Module& ema, torch::nn::Module& model, double decay) {
  torch::NoGradGuard no_grad;
  auto online = model.named_parameters(true);
  for (auto& p : ema.named_parameters(true)) p.value().lerp_(online[p.key()], 1.0 - decay);
  auto buffers = model.named_buffers(true);
  for (auto& b : ema.named_buffers(true)) b.value().copy_(buffers[b.key()]);
}

double ema_decay_at(double decay, int64_t step, bool warmup) {
  if (!warmup) return decay;
  return std::min(decay, (1.0 + double(step)) / (10.0 + double(step)));
}

}  // namespace ddpm

#include "training/loss_scaler.h"

#include <stdexcept>

namespace ddpm {

LossScaler::LossScaler(bool enabled, LossScalerOptions options)
    : enabled_(enabled), options_(options), scale_(enabled ? options.initial_scale : 1.0) {
  if (options_.initial_scale <= 0 || options_.growth_factor <= 1 || options_.backoff_factor <= 0 ||
      options_.backoff_factor >= 1 || options_.growth_interval < 1)
    throw std::invalid_argument(
        "loss scaler: need initial_scale > 0, growth_factor > 1, 0 < backoff_factor < 1 and "
        "growth_interval >= 1");
}

torch::Tensor LossScaler::scale(const torch::Tensor& loss) const {
  return enabled_ ? loss * scale_ : loss;
}

bool LossScaler::unscale(const std::vector<torch::Tensor>& parameters) {
  last_finite_ = true;
  if (!enabled_) return true;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> non_finite;  // one bool scalar per gradient, summed once (one sync)
  for (const auto& p : parameters) {
    auto g = p.grad();
    if (!g.defined()) continue;
    g.mul_(1.0 / scale_);
    non_finite.push_back(g.isfinite().logical_not().any());
  }
  if (!non_finite.empty()) last_finite_ = !torch::stack(non_finite).any().item<bool>();
  return last_finite_;
}

void LossScaler::update() {
  if (!enabled_) return;
  if (!last_finite_) {
    scale_ *= options_.backoff_factor;
    good_steps_ = 0;
    ++skipped_;
  } else if (++good_steps_ >= options_.growth_interval) {
    scale_ *= options_.growth_factor;
    good_steps_ = 0;
  }
  last_finite_ = true;
}

nlohmann::json LossScaler::state() const {
  return {{"scale", scale_}, {"good_steps", good_steps_}, {"skipped_steps", skipped_}};
}

void LossScaler::load_state(const nlohmann::json& state) {
  scale_ = state.at("scale").get<double>();
  good_steps_ = state.at("good_steps").get<int64_t>();
  skipped_ = state.at("skipped_steps").get<int64_t>();
  if (!(scale_ > 0)) throw std::invalid_argument("loss scaler state: scale must be > 0");
}

}  // namespace ddpm

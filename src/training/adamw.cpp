#include "training/adamw.h"

#include <cmath>

namespace ddpm {

AdamW::AdamW(std::vector<std::pair<std::string, torch::Tensor>> parameters, AdamWOptions options)
    : parameters_(std::move(parameters)), options_(options) {
  for (const auto& [name, p] : parameters_) {
    exp_avg_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    exp_avg_sq_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
  }
}

void AdamW::zero_grad() {
  for (auto& [name, p] : parameters_)
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
}

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  ++step_count_;
  const double bias1 = 1.0 - std::pow(options_.beta1, double(step_count_));
  const double bias2 = 1.0 - std::pow(options_.beta2, double(step_count_));
  const double step_size = lr / bias1;
  const double bias2_sqrt = std::sqrt(bias2);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    auto& p = parameters_[i].second;
    if (!p.grad().defined()) continue;
    const auto& g = p.grad();
    if (options_.weight_decay != 0) p.mul_(1.0 - lr * options_.weight_decay);
    exp_avg_[i].lerp_(g, 1.0 - options_.beta1);
    exp_avg_sq_[i].mul_(options_.beta2).addcmul_(g, g, 1.0 - options_.beta2);
    auto denom = exp_avg_sq_[i].sqrt().div_(bias2_sqrt).add_(options_.eps);  // one temporary
    p.addcdiv_(exp_avg_[i], denom, -step_size);
  }
}

TensorMap AdamW::state() const {
  TensorMap out;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    out[parameters_[i].first + ".exp_avg"] = exp_avg_[i];
    out[parameters_[i].first + ".exp_avg_sq"] = exp_avg_sq_[i];
  }
  out["step"] = torch::tensor(step_count_, torch::kLong);
  return out;
}

void AdamW::load_state(const TensorMap& state) {
  auto get = [&](const std::string& key, const torch::Tensor& like) {
    auto it = state.find(key);
    if (it == state.end()) throw std::runtime_error("optimizer state: missing tensor " + key);
    if (it->second.sizes() != like.sizes())
      throw std::runtime_error("optimizer state: " + key + " has the wrong shape");
    return it->second;
  };
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    exp_avg_[i].copy_(get(parameters_[i].first + ".exp_avg", exp_avg_[i]));
    exp_avg_sq_[i].copy_(get(parameters_[i].first + ".exp_avg_sq", exp_avg_sq_[i]));
  }
  auto it = state.find("step");
  if (it == state.end()) throw std::runtime_error("optimizer state: missing tensor step");
  step_count_ = it->second.item<int64_t>();
}

double warmup_lr(double lr, int64_t step, int64_t warmup_steps) {
  if (warmup_steps <= 0) return lr;
  return lr * std::min(1.0, double(step + 1) / double(warmup_steps));
}

}  // namespace ddpm

#include "training/adamw.h"

#include <ATen/record_function.h>

#include <cmath>

#include "training/kernels/adamw_kernel.h"

namespace ddpm {

namespace {

/// The one-pass kernel takes contiguous float32 CPU tensors; anything else (CUDA, other
/// dtypes) runs the LibTorch operators.
bool fused_update_applies(const torch::Tensor& p, const torch::Tensor& g, const torch::Tensor& m,
                          const torch::Tensor& v) {
  for (const auto* t : {&p, &g, &m, &v})
    if (!t->is_cpu() || t->scalar_type() != torch::kFloat32 || !t->is_contiguous()) return false;
  return true;
}

}  // namespace

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
  RECORD_FUNCTION("ddpm::adamw_step", std::vector<c10::IValue>{});
  torch::NoGradGuard no_grad;
  ++step_count_;
  const double bias1 = 1.0 - std::pow(options_.beta1, double(step_count_));
  const double bias2 = 1.0 - std::pow(options_.beta2, double(step_count_));
  const double step_size = lr / bias1;
  const double bias2_sqrt = std::sqrt(bias2);
  kernels::AdamWScalars scalars;
  scalars.decay = float(1.0 - lr * options_.weight_decay);
  scalars.beta1_weight = float(1.0 - options_.beta1);
  scalars.beta2 = float(options_.beta2);
  scalars.beta2_weight = float(1.0 - options_.beta2);
  scalars.bias2_sqrt = float(bias2_sqrt);
  scalars.eps = float(options_.eps);
  scalars.step_size = float(step_size);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    auto& p = parameters_[i].second;
    if (!p.grad().defined()) continue;
    const auto& g = p.grad();
    auto& m = exp_avg_[i];
    auto& v = exp_avg_sq_[i];
    if (fused_update_applies(p, g, m, v)) {
      kernels::adamw_update(p.data_ptr<float>(), g.data_ptr<float>(), m.data_ptr<float>(),
                            v.data_ptr<float>(), p.numel(), scalars);
      continue;
    }
    if (options_.weight_decay != 0) p.mul_(1.0 - lr * options_.weight_decay);
    m.lerp_(g, 1.0 - options_.beta1);
    v.mul_(options_.beta2).addcmul_(g, g, 1.0 - options_.beta2);
    auto denom = v.sqrt().div_(bias2_sqrt).add_(options_.eps);  // one temporary
    p.addcdiv_(m, denom, -step_size);
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

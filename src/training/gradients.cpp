#include "training/gradients.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "training/kernels/gradient_norm_kernel.h"

namespace ddpm {

namespace {

/// The gradients as float32 buffers when they all are contiguous float32 CPU tensors.
std::optional<std::vector<kernels::FloatBuffer>> cpu_float_buffers(
    const std::vector<torch::Tensor>& grads) {
  std::vector<kernels::FloatBuffer> buffers;
  for (const auto& g : grads) {
    if (!g.is_cpu() || g.scalar_type() != torch::kFloat || !g.is_contiguous()) return std::nullopt;
    buffers.push_back({g.data_ptr<float>(), g.numel()});
  }
  return buffers;
}

}  // namespace

double global_grad_norm(torch::nn::Module& model, double clip) {
  std::vector<torch::Tensor> grads;
  for (auto& p : model.parameters())
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;
  if (const auto buffers = cpu_float_buffers(grads)) {
    // One pass for the norm and one to clip (the same float coefficient as below).
    RECORD_FUNCTION("ddpm::global_grad_norm", std::vector<c10::IValue>{});
    const double norm = std::sqrt(kernels::sum_of_squares(*buffers));
    if (clip > 0 && std::isfinite(norm)) {
      const float coef = std::min(1.0f, float(clip) / (float(norm) + 1e-6f));
      if (coef < 1.0f) kernels::scale_buffers(*buffers, coef);  // x · 1 = x
    }
    return norm;
  }
  std::vector<torch::Tensor> norms;
  for (auto& g : grads) norms.push_back(g.norm());
  const auto total = norms.size() == 1 ? norms[0] : torch::stack(norms).norm();
  const double norm = total.item<double>();
  if (clip > 0 && std::isfinite(norm)) {
    const auto coef = torch::clamp(clip / (total + 1e-6), c10::nullopt, 1.0);
    for (auto& g : grads) g.mul_(coef);
  }
  return norm;
}

NamedTensors named_gradients(torch::nn::Module& model) {
  NamedTensors grads;
  for (auto& p : model.named_parameters(true)) grads.emplace_back(p.key(), p.value().grad());
  return grads;
}

std::string generator_state_hex(const torch::Generator& generator) {
  static const char* digits = "0123456789abcdef";
  auto b = generator.get_state().contiguous();
  const auto* p = b.data_ptr<uint8_t>();
  std::string s;
  s.reserve(2 * b.numel());
  for (int64_t i = 0; i < b.numel(); ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

void restore_generator_state(torch::Generator& generator, const std::string& s) {
  if (s.size() % 2) throw std::runtime_error("state.json: malformed RNG state");
  auto out = torch::empty({int64_t(s.size() / 2)}, torch::kUInt8);
  auto* p = out.data_ptr<uint8_t>();
  for (size_t i = 0; i < s.size(); i += 2) {
    const auto hex = s.substr(i, 2);
    if (hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
      throw std::runtime_error("state.json: malformed RNG state");
    p[i / 2] = uint8_t(std::stoi(hex, nullptr, 16));
  }
  generator.set_state(out);
}

}  // namespace ddpm

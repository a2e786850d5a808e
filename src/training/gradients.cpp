#include "training/gradients.h"

#include <cmath>
#include <stdexcept>

namespace ddpm {

double global_grad_norm(torch::nn::Module& model, double clip) {
  std::vector<torch::Tensor> grads;
  for (auto& p : model.parameters())
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;
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

#include "training/non_finite.h"

namespace ddpm {

std::optional<std::string> first_non_finite(const NamedTensors& tensors) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> finite;  // one bool scalar per checked tensor, read back once
  std::vector<const std::string*> names;
  for (const auto& [name, t] : tensors) {
    if (!t.defined() || !(t.is_floating_point() || t.is_complex())) continue;
    auto all = t.isfinite().all();
    if (!finite.empty()) all = all.to(finite.front().device());  // stack needs one device
    finite.push_back(all);
    names.push_back(&name);
  }
  if (finite.empty()) return std::nullopt;
  const auto flags = torch::stack(finite).to(torch::kCPU).contiguous();
  const bool* ok = flags.data_ptr<bool>();
  for (size_t i = 0; i < names.size(); ++i)
    if (!ok[i]) return *names[i];
  return std::nullopt;
}

std::optional<std::string> first_non_finite(const TensorMap& tensors) {
  return first_non_finite(NamedTensors(tensors.begin(), tensors.end()));
}

}  // namespace ddpm

#include "models/state_dict.h"

namespace ddpm {

TensorMap state_dict(const torch::nn::Module& module) {
  TensorMap out;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) out[p.key()] = p.value().detach();
  for (const auto& b : module.named_buffers(/*recurse=*/true)) out[b.key()] = b.value().detach();
  return out;
}

void load_state_dict(torch::nn::Module& module, const TensorMap& tensors,
                     const std::string& origin) {
  auto targets = state_dict(module);
  std::vector<std::string> missing, extra;
  for (const auto& [name, target] : targets)
    if (!tensors.count(name)) missing.push_back(name);
  for (const auto& [name, value] : tensors)
    if (!targets.count(name)) extra.push_back(name);
  auto list = [](const std::vector<std::string>& names) {
    std::string s;
    for (size_t i = 0; i < names.size() && i < 10; ++i) s += (i ? ", " : "") + names[i];
    if (names.size() > 10) s += fmt::format(" and {} more", names.size() - 10);
    return s;
  };
  if (!missing.empty()) throw std::runtime_error(origin + ": missing tensors " + list(missing));
  if (!extra.empty()) throw std::runtime_error(origin + ": unexpected tensors " + list(extra));
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    const auto& value = tensors.at(name);
    if (!value.is_floating_point() && target.is_floating_point())
      throw std::runtime_error(
          fmt::format("{}: tensor {} has dtype {} but the model expects a floating-point tensor "
                      "(F32, F16, BF16 or F64)",
                      origin, name, c10::toString(value.scalar_type())));
    if (value.sizes() != target.sizes())
      throw std::runtime_error(fmt::format("{}: tensor {} has shape {} but the model expects {}",
                                           origin, name, fmt::join(value.sizes(), "x"),
                                           fmt::join(target.sizes(), "x")));
    target.copy_(value);
  }
}

}  // namespace ddpm

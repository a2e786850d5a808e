#include "samplers/thresholding.h"

namespace ddpm {

torch::Tensor dynamic_threshold(const torch::Tensor& x0, double ratio, double max_value) {
  const auto dtype = x0.scalar_type();
  auto flat = x0.reshape({x0.size(0), -1});
  if (dtype != torch::kFloat32 && dtype != torch::kFloat64) flat = flat.to(torch::kFloat32);
  auto s = torch::quantile(flat.abs(), ratio, /*dim=*/1).clamp(1.0, max_value).unsqueeze(1);
  auto out = torch::max(torch::min(flat, s), -s) / s;
  return out.reshape(x0.sizes()).to(dtype);
}

}  // namespace ddpm

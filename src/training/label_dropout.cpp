#include "training/label_dropout.h"

namespace ddpm {

torch::Tensor drop_labels(const torch::Tensor& labels, double p, int64_t null_class,
                          torch::Generator& generator) {
  TORCH_CHECK(labels.dim() == 1, "drop_labels expects labels [B], got ", labels.sizes());
  TORCH_CHECK(p >= 0 && p < 1, "drop_labels: p must be in [0, 1), got ", p);
  if (p == 0) return labels;
  auto u = torch::rand({labels.size(0)}, generator, torch::kFloat64);  // U[0, 1)  [B]
  auto dropped = u.lt(p).to(labels.device());
  return torch::where(dropped, torch::full_like(labels, null_class), labels);
}

}  // namespace ddpm

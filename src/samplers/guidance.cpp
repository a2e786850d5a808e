#include "samplers/guidance.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace ddpm {

void check_guidance(const ClassGuidance& g) {
  if (!std::isfinite(g.scale) || g.scale < 0)
    throw std::invalid_argument("the guidance scale must be a finite number >= 0, got " +
                                std::to_string(g.scale));
  if (!g.labels.defined()) {
    if (g.scale != 1.0)
      throw std::invalid_argument(
          "guidance needs class labels: this model is not class-conditional (guidance scale "
          "must be 1 for it)");
    return;
  }
  if (g.labels.scalar_type() != torch::kLong || g.labels.dim() != 1)
    throw std::invalid_argument("class labels must be int64 of shape [B]");
  if (g.scale != 1.0 && g.null_class < 0)
    throw std::invalid_argument(
        "guidance scale " + std::to_string(g.scale) +
        " needs a null class, and this model records none (train with --class-conditional, or "
        "name it with --null-class; scale 1 samples the conditional model without one)");
}

DenoiseFn guided_denoise_fn(LabelledDenoiseFn net, ClassGuidance g) {
  check_guidance(g);
  return [net = std::move(net), g](const torch::Tensor& x_t, const torch::Tensor& t) {
    if (!g.labels.defined()) return net(x_t, t, {});
    const int64_t B = x_t.size(0);
    TORCH_CHECK(g.labels.size(0) == B, "guidance has ", g.labels.size(0),
                " class labels for a batch of ", B);
    auto labels = g.labels.to(x_t.device());
    if (g.scale == 1.0) return net(x_t, t, labels);
    auto null = torch::full_like(labels, g.null_class);  // ∅  [B]
    if (g.scale == 0.0) return net(x_t, t, null);
    auto t_b = t.reshape({-1}).expand({B});
    auto out = net(torch::cat({x_t, x_t}), torch::cat({t_b, t_b}),
                   torch::cat({labels, null}));  // [2B, C, H, W]
    auto cond = out.slice(0, 0, B), uncond = out.slice(0, B, 2 * B);
    return uncond + g.scale * (cond - uncond);  // Ho & Salimans 2022, eq. 6
  };
}

}  // namespace ddpm

#include "core/slerp.h"

#include <stdexcept>

namespace ddpm {

namespace {

constexpr double kParallelAngle = 1e-6;  // below: sin θ ≈ θ has too few digits to divide by
constexpr double kOppositeAngle = 1e-6;  // π − θ below this: the great circle is not unique

void check_pair(const torch::Tensor& a, const torch::Tensor& b) {
  if (!a.defined() || !b.defined() || a.dim() < 1 || a.sizes() != b.sizes())
    throw std::invalid_argument("slerp: expected two tensors of the same shape [B, ...], found " +
                                (a.defined() ? c10::str(a.sizes()) : std::string("undefined")) +
                                " and " +
                                (b.defined() ? c10::str(b.sizes()) : std::string("undefined")));
}

}  // namespace

torch::Tensor slerp_angle(const torch::Tensor& a, const torch::Tensor& b) {
  check_pair(a, b);
  auto a64 = a.to(torch::kFloat64).flatten(1), b64 = b.to(torch::kFloat64).flatten(1);  // [B, d]
  auto na = a64.norm(2, 1), nb = b64.norm(2, 1);                                        // [B]
  if ((na == 0).any().item<bool>() || (nb == 0).any().item<bool>())
    throw std::invalid_argument("slerp: a row of zeros has no direction to interpolate");
  auto cos = ((a64 * b64).sum(1) / (na * nb)).clamp(-1.0, 1.0);
  return torch::acos(cos);  // [B]
}

torch::Tensor slerp(const torch::Tensor& a, const torch::Tensor& b, double lambda) {
  if (!(lambda >= 0.0 && lambda <= 1.0))
    throw std::invalid_argument("slerp: lambda must be in [0, 1], got " + std::to_string(lambda));
  auto theta = slerp_angle(a, b);  // [B] f64
  if ((theta > M_PI - kOppositeAngle).any().item<bool>())
    throw std::invalid_argument(
        "slerp: the rows point in opposite directions (θ = π), so no unique arc joins them");
  std::vector<int64_t> shape(a.dim(), 1);
  shape[0] = a.size(0);
  // DDIM Appendix D.5 / Shoemake: sin((1 − λ)θ)/sin θ and sin(λθ)/sin θ; near θ = 0 their
  // limits 1 − λ and λ.
  const auto sin_theta = torch::sin(theta);
  const auto parallel = theta < kParallelAngle;
  auto wa = torch::where(parallel, torch::full_like(theta, 1.0 - lambda),
                         torch::sin((1.0 - lambda) * theta) / sin_theta);
  auto wb = torch::where(parallel, torch::full_like(theta, lambda),
                         torch::sin(lambda * theta) / sin_theta);
  auto out = wa.view(shape) * a.to(torch::kFloat64) + wb.view(shape) * b.to(torch::kFloat64);
  return out.to(a.scalar_type());
}

}  // namespace ddpm

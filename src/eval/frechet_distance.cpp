#include "eval/frechet_distance.h"

#include <stdexcept>
#include <string>

namespace ddpm {

FeatureStatistics feature_statistics(const torch::Tensor& features) {
  if (features.dim() != 2 || features.size(0) < 2)
    throw std::invalid_argument("feature statistics need features [N, D] with N >= 2, got " +
                                c10::str(features.sizes()));
  auto f = features.to(torch::kCPU, torch::kFloat64);
  FeatureStatistics s;
  s.count = f.size(0);
  s.mu = f.mean(0);
  auto centered = f - s.mu;
  s.sigma = centered.t().matmul(centered) / double(s.count - 1);  // np.cov(rowvar=False)
  return s;
}

double trace_sqrt_product(const torch::Tensor& a, const torch::Tensor& b) {
  // tr((A B)^½) = tr((A^½ B A^½)^½) = ‖B^½ A^½‖_* (the nuclear norm: (A^½ B A^½)^½ = |B^½ A^½|),
  // so the trace is the sum of the singular values of B^½ A^½. Taking singular values of that
  // product, instead of square roots of the eigenvalues of A^½ B A^½, keeps rounding at
  // ε·‖A‖ rather than √ε·‖A‖: for a rank-deficient covariance (fewer samples than dimensions)
  // the eigenvalues of the null space come out as ±ε·‖A‖², whose square roots would add
  // √ε·‖A‖ each. The square roots come from eigendecompositions, V diag(√λ) Vᵀ, with λ < 0
  // (rounding only: both are PSD) clipped at 0.
  auto sqrt_psd = [](const torch::Tensor& m) {
    auto [lambda, v] = torch::linalg_eigh(m.to(torch::kFloat64));
    return (v * lambda.clamp_min(0).sqrt().unsqueeze(0)).matmul(v.t());
  };
  return torch::linalg_svdvals(sqrt_psd(b).matmul(sqrt_psd(a))).sum().item<double>();
}

double frechet_distance(const FeatureStatistics& a, const FeatureStatistics& b) {
  if (a.mu.sizes() != b.mu.sizes())
    throw std::invalid_argument("Fréchet distance: feature dimensions differ (" +
                                std::to_string(a.mu.numel()) + " vs " +
                                std::to_string(b.mu.numel()) + ")");
  const double mean_term = (a.mu - b.mu).pow(2).sum().item<double>();
  const double trace_term = a.sigma.trace().item<double>() + b.sigma.trace().item<double>();
  return mean_term + trace_term - 2.0 * trace_sqrt_product(a.sigma, b.sigma);
}

}  // namespace ddpm

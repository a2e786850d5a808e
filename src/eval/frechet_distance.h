// The Fréchet distance between Gaussians fitted to two feature sets — FID when the features are
// the FID Inception's pool3 (Heusel et al. 2017, eq. 6):
//
//   d² = ‖μ₁ − μ₂‖² + tr(Σ₁) + tr(Σ₂) − 2 tr((Σ₁ Σ₂)^½)
//
// In float64, with the covariance the way pytorch-fid's fid_score.py computes it (np.cov,
// rowvar=False: the unbiased N − 1 estimate). Where pytorch-fid takes scipy's general sqrtm of
// the non-symmetric Σ₁Σ₂ (and retries with εI on failure), we use the symmetric form
// tr((Σ₁Σ₂)^½) = tr((Σ₁^½ Σ₂ Σ₁^½)^½): two eigendecompositions of symmetric PSD matrices, with
// eigenvalues clipped at 0, which cannot produce the complex or NaN results sqrtm can on
// rank-deficient covariances (fewer images than feature dimensions).
//
//   auto a = feature_statistics(features_a);   // [N, D] any float dtype
//   double fid = frechet_distance(a, feature_statistics(features_b));
#pragma once
#include <torch/torch.h>

namespace ddpm {

struct FeatureStatistics {
  torch::Tensor mu;     ///< mean [D] f64
  torch::Tensor sigma;  ///< covariance [D, D] f64 (N − 1 normalisation)
  int64_t count = 0;    ///< N
};

/// Mean and covariance of features [N, D] (N ≥ 2), in float64 on the CPU.
FeatureStatistics feature_statistics(const torch::Tensor& features);

/// tr((A B)^½) for symmetric positive semi-definite A, B [D, D] (float64).
double trace_sqrt_product(const torch::Tensor& a, const torch::Tensor& b);

/// d² above. Throws std::invalid_argument when the dimensions differ.
double frechet_distance(const FeatureStatistics& a, const FeatureStatistics& b);

}  // namespace ddpm

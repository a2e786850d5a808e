// Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs", §4): the unbiased
// estimate of the squared MMD between two feature sets with the cubic polynomial kernel
//
//   k(a, b) = (aᵀb / d + 1)³,
//   MMD²_u = 1/(m(m−1)) Σ_{i≠j} [k(x_i, x_j) + k(y_i, y_j)] − 2/m² Σ_{i,j} k(x_i, y_j),
//
// averaged over random subsets of m points drawn without replacement from each set, reported as
// mean and standard deviation over subsets — torch-fidelity's kid.py (kid_subsets = 100,
// kid_subset_size = 1000) and clean-fid's kernel_distance. The Keras DDIM example's KID metric is
// the same estimator on one batch. Unbiased: its expectation is 0 for two draws from one
// distribution, so small values can be negative.
//
//   KIDOptions o;  o.subsets = 100;  o.subset_size = 1000;
//   KIDResult r = kernel_inception_distance(features_a, features_b, o);   // r.mean, r.std
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace ddpm {

struct KIDOptions {
  /// Random subsets averaged (torch-fidelity's default 100).
  int64_t subsets = 100;
  /// Points per subset from each set, capped at the smaller set (torch-fidelity's default 1000).
  int64_t subset_size = 1000;
  /// Seed of the subset draws.
  uint64_t seed = 0;
};

struct KIDResult {
  double mean = 0;  ///< MMD²_u averaged over subsets
  double std = 0;   ///< standard deviation over subsets (0 for one subset)
  int64_t subsets = 0;
  int64_t subset_size = 0;  ///< m actually used
};

/// MMD²_u of x [m, D] and y [m, D] (same m ≥ 2) with k above, in float64.
double mmd2_unbiased(const torch::Tensor& x, const torch::Tensor& y);

/// KID of features a [N_a, D] and b [N_b, D]. Throws std::invalid_argument when the dimensions
/// differ, either set has fewer than 2 rows, or subsets < 1.
KIDResult kernel_inception_distance(const torch::Tensor& a, const torch::Tensor& b,
                                    const KIDOptions& options = {});

}  // namespace ddpm

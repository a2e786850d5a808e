// TensorBoard's scalar smoothing: a debiased exponential moving average, as in TensorBoard's
// vz_line_chart2/line-chart.ts (resetSmoothedValue):
//
//   last ← w · last + (1 − w) · y_i,   smoothed_i = last / (1 − w^n_i),   last₀ = 0,
//
// where n_i counts the finite values so far. Dividing by 1 − w^n removes the pull towards the
// initial 0 (the same correction as Adam's bias correction), so the first smoothed value is y_0
// itself. Non-finite values pass through unchanged and do not enter the average; a constant
// series is returned as is (TensorBoard's special case, which avoids rounding noise).
#pragma once
#include <vector>

namespace ddpm {

/// Smoothed copy of `values` with weight w ∈ [0, 1) (TensorBoard's slider; 0.99 in the study).
/// Throws std::invalid_argument for w outside [0, 1).
std::vector<double> tensorboard_smooth(const std::vector<double>& values, double weight);

}  // namespace ddpm

// Spherical linear interpolation (Shoemake 1985, "Animating rotation with quaternion curves",
// SIGGRAPH), as the DDIM paper (Song et al. 2020, §5.3 and Appendix D.5) uses it between two
// initial noises x_T, x_T′ of a deterministic DDIM chain:
//
//   x(λ) = sin((1 − λ) θ)/sin θ · a + sin(λ θ)/sin θ · b,   θ = arccos(⟨a, b⟩ / (‖a‖ ‖b‖)).
//
// Gaussian x_T live near the sphere of radius √d, where the straight line (1 − λ) a + λ b would
// cut through low-probability space; slerp stays on it. For ‖a‖ = ‖b‖ every x(λ) has that norm.
//
//   auto mid = slerp(x_T_a, x_T_b, 0.5);     // [B, C, H, W]: one θ per row
#pragma once
#include <torch/torch.h>

namespace ddpm {

/// Rows of a and b ([B, ...], the same shape) interpolated at λ ∈ [0, 1], one angle θ per row,
/// computed in float64 and returned in a's dtype. λ = 0 gives a and λ = 1 gives b exactly. When
/// θ < 1e-6 (near-parallel rows, where sin θ → 0 loses every digit) the limit (1 − λ) a + λ b
/// is used. Throws std::invalid_argument for shapes that differ, λ outside [0, 1], a zero row
/// (no direction), or opposite rows (θ = π: no unique great circle).
torch::Tensor slerp(const torch::Tensor& a, const torch::Tensor& b, double lambda);

/// The angle θ between the rows of a and b, float64 [B].
torch::Tensor slerp_angle(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace ddpm

// AdamW's update of one contiguous float32 parameter, fused into a single pass over p, g, m, v
// (training/adamw.cpp): LibTorch needs six operators (mul_, lerp_, mul_, addcmul_, sqrt + div_
// + add_, addcdiv_), each a pass over the tensor and a dispatch. No LibTorch here, so that the
// loop compiles vectorised and with OpenMP (see models/kernels/group_norm_act_kernel.h).
#pragma once
#include <cstdint>

namespace ddpm::kernels {

struct AdamWScalars {
  float decay;         ///< 1 − lr·λ, the decoupled weight decay's factor
  float beta1_weight;  ///< 1 − β₁: m ← m + (1 − β₁)(g − m)
  float beta2;         ///< β₂
  float beta2_weight;  ///< 1 − β₂
  float bias2_sqrt;    ///< √(1 − β₂^t)
  float eps;           ///< ε
  float step_size;     ///< lr / (1 − β₁^t)
};

/// The n elements of p ← p·decay; m ← lerp(m, g, 1 − β₁); v ← β₂ v + (1 − β₂) g²;
/// p ← p − step_size · m / (√v / bias2_sqrt + ε).
/// OpenMP threads split tensors of more than 32768 elements.
void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamWScalars& s);

}  // namespace ddpm::kernels

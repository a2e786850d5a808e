// What the network predicts, and conversions between ε, x_0 and v.
//
// With x_t = √ᾱ x_0 + √(1−ᾱ) ε (DDPM eq. 4): x_0 = (x_t − √(1−ᾱ) ε)/√ᾱ (DDPM eq. 15);
// v = √ᾱ ε − √(1−ᾱ) x_0 (Salimans & Ho 2022, §4), so x_0 = √ᾱ x_t − √(1−ᾱ) v and
// ε = √ᾱ v + √(1−ᾱ) x_t. Names as in diffusers' prediction_type.
#pragma once
#include <torch/torch.h>

#include "core/enum_table.h"

namespace ddpm {

enum class PredictionType { epsilon, sample, v_prediction };
template <>
const EnumTable<PredictionType>& enum_table<PredictionType>();

/// The regression target of the simple loss for `type` (DDPM Algorithm 1 for epsilon).
/// alpha_bar broadcasts against x0 ([B,1,1,1] or a scalar tensor).
torch::Tensor prediction_target(PredictionType type, const torch::Tensor& x0,
                                const torch::Tensor& noise, const torch::Tensor& alpha_bar);

/// Predicted x_0 and ε from the model's output at x_t.
struct Predicted {
  torch::Tensor x0;
  torch::Tensor eps;
};
Predicted split_prediction(PredictionType type, const torch::Tensor& model_output,
                           const torch::Tensor& x_t, const torch::Tensor& alpha_bar);

/// ε implied by x_t and an x_0 estimate (used after clipping x_0).
torch::Tensor eps_from_x0(const torch::Tensor& x_t, const torch::Tensor& x0,
                          const torch::Tensor& alpha_bar);

}  // namespace ddpm

// x̂_0 from a model output at a sample of the variance-exploding form x = x_0 + σ ε that
// Euler, Euler-ancestral and Heun integrate, as diffusers 0.21.4's sigma schedulers compute it:
//   epsilon: x − σ ε̂;  v_prediction: v̂ (−σ/√(σ² + 1)) + x/(σ² + 1);  sample: the output.
// The network itself is asked at x/√(σ² + 1) (scale_model_input), the model's own scaling.
#pragma once
#include <torch/torch.h>

#include "core/prediction.h"

namespace ddpm {

torch::Tensor sigma_pred_x0(PredictionType type, const torch::Tensor& model_output,
                            const torch::Tensor& x, double sigma);

/// x/√(σ² + 1): a sigma-space sample in the model's variance-preserving scaling.
torch::Tensor to_model_scaling(const torch::Tensor& x, double sigma);

}  // namespace ddpm

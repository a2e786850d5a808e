#include "samplers/sigma_prediction.h"

#include <cmath>

namespace ddpm {

torch::Tensor sigma_pred_x0(PredictionType type, const torch::Tensor& out, const torch::Tensor& x,
                            double sigma) {
  switch (type) {
    case PredictionType::epsilon:
      return x - sigma * out;
    case PredictionType::v_prediction:
      return out * (-sigma / std::sqrt(sigma * sigma + 1.0)) + x / (sigma * sigma + 1.0);
    case PredictionType::sample:
      return out;
  }
  return out;
}

torch::Tensor to_model_scaling(const torch::Tensor& x, double sigma) {
  return x / std::sqrt(sigma * sigma + 1.0);
}

}  // namespace ddpm

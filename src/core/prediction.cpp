#include "core/prediction.h"

namespace ddpm {

template <>
const EnumTable<PredictionType>& enum_table<PredictionType>() {
  static const EnumTable<PredictionType> table{"prediction type",
                                               {{PredictionType::epsilon, "epsilon"},
                                                {PredictionType::sample, "sample"},
                                                {PredictionType::v_prediction, "v_prediction"}}};
  return table;
}

torch::Tensor prediction_target(PredictionType type, const torch::Tensor& x0,
                                const torch::Tensor& noise, const torch::Tensor& alpha_bar) {
  switch (type) {
    case PredictionType::epsilon:
      return noise;
    case PredictionType::sample:
      return x0;
    case PredictionType::v_prediction:
      return alpha_bar.sqrt() * noise - (1.0 - alpha_bar).sqrt() * x0;
  }
  throw std::logic_error("prediction_target: bad type");
}

Predicted split_prediction(PredictionType type, const torch::Tensor& out, const torch::Tensor& x_t,
                           const torch::Tensor& alpha_bar) {
  auto sqrt_a = alpha_bar.sqrt(), sqrt_1ma = (1.0 - alpha_bar).sqrt();
  switch (type) {
    case PredictionType::epsilon:
      return {(x_t - sqrt_1ma * out) / sqrt_a, out};  // DDPM eq. (15)
    case PredictionType::sample:
      return {out, (x_t - sqrt_a * out) / sqrt_1ma};
    case PredictionType::v_prediction:
      return {sqrt_a * x_t - sqrt_1ma * out, sqrt_a * out + sqrt_1ma * x_t};
  }
  throw std::logic_error("split_prediction: bad type");
}

torch::Tensor eps_from_x0(const torch::Tensor& x_t, const torch::Tensor& x0,
                          const torch::Tensor& alpha_bar) {
  return (x_t - alpha_bar.sqrt() * x0) / (1.0 - alpha_bar).sqrt();
}

}  // namespace ddpm

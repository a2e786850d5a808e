#include "models/denoiser.h"

namespace ddpm {

namespace {

torch::Tensor conditioning(Conditioning kind, const torch::Tensor& alphas_cumprod,
                           const torch::Tensor& t) {
  TORCH_CHECK(t.dim() == 1 && t.scalar_type() == torch::kLong,
              "conditioning expects t as int64 step indices of shape [B], got ", t.scalar_type(),
              " ", t.sizes());
  const int64_t T = alphas_cumprod.size(0);
  if (t.numel() > 0)
    TORCH_CHECK(t.min().item<int64_t>() >= 0 && t.max().item<int64_t>() < T,
                "step indices must lie in [0, ", T, "), got values in [", t.min().item<int64_t>(),
                ", ", t.max().item<int64_t>(), "]");
  if (kind == Conditioning::timestep) return t.to(torch::kFloat32);  // [B]
  // 1 − ᾱ_t in float64, then float32 (the Keras example's noise_rates²).
  auto alpha_bar = alphas_cumprod.index_select(0, t.to(alphas_cumprod.device()));  // [B] f64
  return (1.0 - alpha_bar).to(t.device(), torch::kFloat32);                        // [B]
}

}  // namespace

torch::Tensor conditioning_for(const UNetConfig& config, const NoiseSchedule& schedule,
                               const torch::Tensor& t) {
  TORCH_CHECK(schedule.alphas_cumprod.defined(), "conditioning_for: the schedule is empty");
  return conditioning(config.conditioning, schedule.alphas_cumprod, t);
}

torch::Tensor autocast_forward(UNet& model, const torch::Tensor& x, const torch::Tensor& c,
                               Precision precision, const torch::Device& device,
                               bool cache_casts) {
  AutocastScope autocast(precision, device, cache_casts);
  return model->forward(x, c).to(torch::kFloat32);  // [B, C, H, W]
}

DenoiseFn make_denoise_fn(UNet model, const NoiseSchedule& schedule, Precision precision) {
  TORCH_CHECK(!model.is_empty(), "make_denoise_fn: the model is null");
  TORCH_CHECK(schedule.alphas_cumprod.defined(), "make_denoise_fn: the schedule is empty");
  const auto device = model->parameters().front().device();
  check_precision(precision, device);
  torch::Tensor alphas_cumprod = schedule.alphas_cumprod;
  return [model, alphas_cumprod, precision, device](const torch::Tensor& x_t,
                                                     const torch::Tensor& t) mutable {
    // Inference mode: no autograd graph, and no version counters or view tracking either.
    c10::InferenceMode inference;
    auto c = conditioning(model->config().conditioning, alphas_cumprod, t.to(x_t.device()));
    return autocast_forward(model, x_t, c, precision, device);  // [B, C, H, W]
  };
}

}  // namespace ddpm

#include "models/denoiser.h"

namespace ddpm {

namespace {

torch::Tensor conditioning(const UNetConfig& config, const NoiseSchedule& schedule,
                           const torch::Tensor& t) {
  const Conditioning kind = config.conditioning;
  TORCH_CHECK(t.dim() == 1 && t.scalar_type() != torch::kBool,
              "conditioning expects t as step labels of shape [B] (integer or float), got ",
              t.scalar_type(), " ", t.sizes());
  if (kind == Conditioning::timestep) {
    auto c = t.to(torch::kFloat32);  // [B]
    if (c.numel() > 0) {
      const double lo = c.min().item<double>(), hi = c.max().item<double>();
      TORCH_CHECK(lo >= 0.0 && hi <= double(schedule.num_train_timesteps - 1),
                  "step labels must lie in [0, ", schedule.num_train_timesteps - 1,
                  "], got values in [", lo, ", ", hi, "]");
    }
    // improved-diffusion _scale_timesteps: t · 1000/T when rescale_timesteps.
    return config.timestep_scale == 1.0 ? c : c * config.timestep_scale;
  }
  // 1 − ᾱ_t in float64, then float32 (the Keras example's noise_rates²); fractional t
  // interpolates σ as the sigma samplers do (core/noise_schedule.h alpha_bar_at).
  return (1.0 - alpha_bar_at(schedule, t)).to(t.device(), torch::kFloat32);  // [B]
}

}  // namespace

torch::Tensor conditioning_for(const UNetConfig& config, const NoiseSchedule& schedule,
                               const torch::Tensor& t) {
  TORCH_CHECK(schedule.alphas_cumprod.defined(), "conditioning_for: the schedule is empty");
  return conditioning(config, schedule, t);
}

torch::Tensor autocast_forward(UNet& model, const torch::Tensor& x, const torch::Tensor& c,
                               const torch::Tensor& class_labels, Precision precision,
                               const torch::Device& device, bool cache_casts) {
  AutocastScope autocast(precision, device, cache_casts);
  return model->forward(x, c, class_labels).to(torch::kFloat32);  // [B, C, H, W]
}

LabelledDenoiseFn make_labelled_denoise_fn(UNet model, const NoiseSchedule& schedule,
                                           Precision precision) {
  TORCH_CHECK(!model.is_empty(), "make_denoise_fn: the model is null");
  TORCH_CHECK(schedule.alphas_cumprod.defined(), "make_denoise_fn: the schedule is empty");
  const auto device = model->parameters().front().device();
  check_precision(precision, device);
  return [model, schedule, precision, device](const torch::Tensor& x_t, const torch::Tensor& t,
                                              const torch::Tensor& class_labels) mutable {
    // Inference mode: no autograd graph, and no version counters or view tracking either.
    c10::InferenceMode inference;
    auto c = conditioning(model->config(), schedule, t.to(x_t.device()));
    return autocast_forward(model, x_t, c, class_labels, precision, device);  // [B, C, H, W]
  };
}

DenoiseFn make_denoise_fn(UNet model, const NoiseSchedule& schedule, Precision precision) {
  auto net = make_labelled_denoise_fn(std::move(model), schedule, precision);
  return [net](const torch::Tensor& x_t, const torch::Tensor& t) { return net(x_t, t, {}); };
}

}  // namespace ddpm

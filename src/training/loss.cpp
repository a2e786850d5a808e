#include "training/loss.h"

#include "core/forward_process.h"
#include "models/denoiser.h"
#include "samplers/denoise_fn.h"

namespace ddpm {

torch::Tensor diffusion_loss(UNet& model, const NoiseSchedule& schedule, PredictionType prediction,
                             LossType loss, const torch::Tensor& x0, torch::Generator& generator,
                             Precision precision, const torch::Tensor& class_labels) {
  const int64_t batch = x0.size(0);
  auto t = torch::randint(schedule.num_train_timesteps, {batch}, generator,
                          torch::TensorOptions().dtype(torch::kLong));  // t ~ U{0..T−1}  [B]
  auto noise = draw_noise(x0, generator);                               // ε  [B, C, H, W]
  auto x_t = q_sample(schedule, x0, t, noise);                          // eq. (4)
  auto alpha_bar = extract(schedule.alphas_cumprod, t, x0.dim(), x0);   // [B, 1, 1, 1]
  auto target = prediction_target(prediction, x0, noise, alpha_bar);
  auto c = conditioning_for(model->config(), schedule, t.to(x0.device()));              // [B]
  auto output = autocast_forward(model, x_t, c, class_labels, precision, x0.device());  // float32
  return loss == LossType::l1 ? torch::l1_loss(output, target) : torch::mse_loss(output, target);
}

}  // namespace ddpm

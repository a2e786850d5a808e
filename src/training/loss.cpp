#include "training/loss.h"

#include "core/forward_process.h"
#include "core/vlb.h"
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
  return diffusion_loss(model, schedule, prediction, loss, x0, t, noise, precision, class_labels);
}

torch::Tensor diffusion_loss(UNet& model, const NoiseSchedule& schedule, PredictionType prediction,
                             LossType loss, const torch::Tensor& x0, const torch::Tensor& t_in,
                             const torch::Tensor& noise_in, Precision precision,
                             const torch::Tensor& class_labels) {
  auto t = t_in.to(torch::kCPU);
  auto noise = noise_in.to(x0.device(), x0.scalar_type());
  auto x_t = q_sample(schedule, x0, t, noise);                         // eq. (4)
  auto alpha_bar = extract(schedule.alphas_cumprod, t, x0.dim(), x0);  // [B, 1, 1, 1]
  auto target = prediction_target(prediction, x0, noise, alpha_bar);
  auto t_device = t.to(x0.device());
  auto c = conditioning_for(model->config(), schedule, t_device);                       // [B]
  auto output = autocast_forward(model, x_t, c, class_labels, precision, x0.device());  // float32
  if (loss == LossType::l1) return torch::l1_loss(output, target);
  if (loss == LossType::mse) return torch::mse_loss(output, target);
  return hybrid_loss(schedule, prediction, output, target, x0, x_t, t_device, alpha_bar);
}

torch::Tensor hybrid_loss(const NoiseSchedule& schedule, PredictionType prediction,
                          const torch::Tensor& output, const torch::Tensor& target,
                          const torch::Tensor& x0, const torch::Tensor& x_t, const torch::Tensor& t,
                          const torch::Tensor& alpha_bar) {
  const int64_t C = x0.size(1);
  TORCH_CHECK(output.size(1) == 2 * C, "the hybrid loss needs a network with ", 2 * C,
              " output channels (the prediction, then v), got ", output.size(1));
  auto predicted = output.narrow(1, 0, C), v = output.narrow(1, C, C);
  // improved-diffusion gaussian_diffusion.py training_losses: the bound sees the mean frozen
  // (frozen_out = [model_output.detach(), model_var_values]), so L_vlb trains Σ_θ only.
  auto x0_hat = split_prediction(prediction, predicted.detach(), x_t, alpha_bar).x0;
  auto model_mean = q_posterior(schedule, x0_hat, x_t, t).mean;  // μ̃_t(x_t, x̂_0), DDPM eq. (7)
  auto model_log_variance = learned_range_log_variance(schedule, v, t);         // iDDPM eq. (15)
  auto vb = vb_term_bpd(schedule, x0, x_t, t, model_mean, model_log_variance);  // [B] bits/dim
  // RESCALED_MSE (their default): vb × T/1000, "for equivalence with the initial
  // implementation"; for T = 1000 this is the paper's L_simple + λ L_vlb with the bound's terms
  // averaged over dimensions (the paper's λ = 0.001 on the sum over steps).
  vb = vb * (double(schedule.num_train_timesteps) / 1000.0);
  return torch::mse_loss(predicted, target) + vb.mean().to(torch::kFloat32);
}

}  // namespace ddpm

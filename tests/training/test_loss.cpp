// The training objective (DDPM Algorithm 1): diffusion_loss draws t ~ U{0..T−1} and ε from the
// generator, forms x_t by eq. (4) and regresses the network output onto the target of the
// prediction type with mse or l1. Replaying the same draws by hand must give the same number.
// hybrid_loss (improved DDPM's L_hybrid) is checked against closed forms.
#include "training/loss.h"

#include "core/forward_process.h"
#include "models/denoiser.h"
#include "models/presets.h"
#include "samplers/denoise_fn.h"
#include "test_util.h"

namespace ddpm {
namespace {

UNetConfig tiny_model() {
  UNetConfig m = model_preset("fashion-mnist");
  m.sample_size = 8;
  m.block_out_channels = {8, 16};
  m.layers_per_block = 1;
  m.down_block_types = {DownBlockType::plain, DownBlockType::plain};
  m.up_block_types = {UpBlockType::plain, UpBlockType::plain};
  m.norm_num_groups = 4;
  return m;
}

/// The loss computed by hand from the same generator state.
double by_hand(UNet& model, const NoiseSchedule& s, PredictionType prediction, LossType loss,
               const torch::Tensor& x0, uint64_t seed) {
  torch::Generator g = at::detail::createCPUGenerator(seed);
  auto t = torch::randint(s.num_train_timesteps, {x0.size(0)}, g,
                          torch::TensorOptions().dtype(torch::kLong));
  auto eps = draw_noise(x0, g);
  auto a = s.alphas_cumprod.index_select(0, t).to(torch::kFloat32).view({-1, 1, 1, 1});
  auto x_t = a.sqrt() * x0 + (1 - a).sqrt() * eps;  // eq. (4)
  torch::Tensor target = prediction == PredictionType::epsilon ? eps
                         : prediction == PredictionType::sample
                             ? x0
                             : a.sqrt() * eps - (1 - a).sqrt() * x0;  // v = √ᾱ ε − √(1−ᾱ) x0
  auto out = model->forward(x_t, conditioning_for(model->config(), s, t));
  auto diff = out - target;
  return (loss == LossType::mse ? diff.pow(2).mean() : diff.abs().mean()).item<double>();
}

TEST(DiffusionLoss, IsTheRegressionOntoTheTargetAtUniformT) {
  torch::manual_seed(0);
  UNet model(tiny_model());
  model->eval();  // no dropout: the two passes see the same network
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto x0 = torch::rand({6, 1, 8, 8}) * 2 - 1;
  for (auto prediction :
       {PredictionType::epsilon, PredictionType::sample, PredictionType::v_prediction})
    for (auto loss : {LossType::mse, LossType::l1}) {
      torch::Generator g = at::detail::createCPUGenerator(11);
      const double ours = diffusion_loss(model, schedule, prediction, loss, x0, g).item<double>();
      EXPECT_NEAR(ours, by_hand(model, schedule, prediction, loss, x0, 11), 1e-6)
          << to_string(prediction) << " " << to_string(loss);
    }
}

// improved DDPM's L_hybrid, checked on outputs chosen by hand. A perfect prediction with v = −1
// (Σ = β̃_t, the true posterior's variance) costs nothing at t > 0; with v = +1 (Σ = β_t) the
// bound's term is the closed-form KL of two Gaussians of one mean, ½(log(β/β̃) + β̃/β − 1) nats
// per dimension, in bits. The bound trains only v: the prediction's gradient is the mse's alone.
TEST(HybridLoss, IsLSimplePlusTheBoundsTermWithTheMeanFrozen) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  torch::manual_seed(1);
  const int64_t B = 4;
  auto x0 = (torch::randint(256, {B, 1, 4, 4}).to(torch::kFloat32) / 127.5 - 1);
  auto eps = torch::randn({B, 1, 4, 4});
  auto t = torch::tensor({1, 10, 500, 999}, torch::kLong);
  auto a = schedule.alphas_cumprod.index_select(0, t).to(torch::kFloat32).view({-1, 1, 1, 1});
  auto x_t = a.sqrt() * x0 + (1 - a).sqrt() * eps;
  for (const double v : {-1.0, 1.0}) {
    auto output = torch::cat({eps, torch::full_like(eps, v)}, 1);
    const double loss =
        hybrid_loss(schedule, PredictionType::epsilon, output, eps, x0, x_t, t, a).item<double>();
    double expected = 0;
    for (int64_t i = 0; i < B; ++i) {
      const int64_t step = t[i].item<int64_t>();
      const double beta = schedule.betas[step].item<double>();
      const double beta_tilde = schedule.posterior_variance[step].item<double>();
      if (v > 0)
        expected += 0.5 * (std::log(beta / beta_tilde) + beta_tilde / beta - 1) / std::log(2.0);
    }
    EXPECT_NEAR(loss, expected / B, 1e-4 * std::max(1.0, expected / B)) << "v = " << v;
  }
  // At t = 0 the term is the decoder's NLL: −log₂ of the bin's mass, ≥ 0 and finite.
  auto t0 = torch::zeros({B}, torch::kLong);
  auto a0 = schedule.alphas_cumprod.index_select(0, t0).to(torch::kFloat32).view({-1, 1, 1, 1});
  auto x_0t = a0.sqrt() * x0 + (1 - a0).sqrt() * eps;
  auto out0 = torch::cat({eps, torch::zeros_like(eps)}, 1);
  const double decoder =
      hybrid_loss(schedule, PredictionType::epsilon, out0, eps, x0, x_0t, t0, a0).item<double>();
  EXPECT_GT(decoder, 0.0);
  EXPECT_LT(decoder, 8.0);  // at most 8 bits for an 8-bit value under any sane Gaussian
  // Gradients: the prediction channels get the mse's 2(p − target)/N only; v gets the bound's.
  auto wrong = torch::cat({eps + 0.1, torch::full_like(eps, 0.3)}, 1).requires_grad_(true);
  hybrid_loss(schedule, PredictionType::epsilon, wrong, eps, x0, x_t, t, a).backward();
  auto grad = wrong.grad();
  const double n = double(eps.numel());
  EXPECT_TRUE(
      torch::allclose(grad.narrow(1, 0, 1), torch::full_like(eps, 2 * 0.1 / n), 1e-5, 1e-9));
  EXPECT_GT(grad.narrow(1, 1, 1).abs().max().item<double>(), 0.0);
  // A network without the variance channels is refused, naming what it needs.
  EXPECT_THROW(hybrid_loss(schedule, PredictionType::epsilon, eps, eps, x0, x_t, t, a), c10::Error);
}

TEST(DiffusionLoss, DrawsTUniformlyOverAllSteps) {
  // The same generator calls as diffusion_loss: t covers 0..T−1 evenly (χ² over 10 bins).
  torch::Generator g = at::detail::createCPUGenerator(3);
  auto t = torch::randint(1000, {20000}, g, torch::TensorOptions().dtype(torch::kLong));
  auto counts = torch::bincount(t.div(100, "floor"), {}, 10).to(torch::kFloat64);
  const double expected = 2000, chi2 = ((counts - expected).pow(2) / expected).sum().item<double>();
  EXPECT_LT(chi2, 27.9);  // p = 0.001 with 9 degrees of freedom
  EXPECT_EQ(t.min().item<int64_t>(), 0);
  EXPECT_EQ(t.max().item<int64_t>(), 999);
}

}  // namespace
}  // namespace ddpm

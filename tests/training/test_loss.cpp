// The training objective (DDPM Algorithm 1): diffusion_loss draws t ~ U{0..T−1} and ε from the
// generator, forms x_t by eq. (4) and regresses the network output onto the target of the
// prediction type with mse or l1. Replaying the same draws by hand must give the same number.
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

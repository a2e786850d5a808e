// conditioning_for / make_denoise_fn: timestep vs noise-variance conditioning.
#include <gtest/gtest.h>

#include "core/noise_schedule.h"
#include "models/denoiser.h"
#include "models/presets.h"

namespace ddpm {
namespace {

TEST(Denoiser, ConditioningValues) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto t = torch::tensor({int64_t(0), int64_t(499), int64_t(999)});
  auto c = conditioning_for(model_preset("fashion-mnist"), schedule, t);
  EXPECT_EQ(c.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(c, torch::tensor({0.0f, 499.0f, 999.0f})));
  auto v = conditioning_for(model_preset("keras-ddim"), schedule, t);
  for (int64_t i = 0; i < 3; ++i)
    EXPECT_NEAR(v[i].item<double>(), 1.0 - schedule.alpha_bar(t[i].item<int64_t>()), 1e-7);
  EXPECT_THROW(conditioning_for(model_preset("keras-ddim"), schedule, torch::tensor({1000})),
               c10::Error);
  EXPECT_THROW(conditioning_for(model_preset("fashion-mnist"), schedule, torch::tensor({-1.0f})),
               c10::Error);
}

// Continuous time: fractional labels pass through as timesteps and give the noise variance of
// the σ interpolated between the neighbouring steps (alpha_bar_at), as the sigma samplers mean.
TEST(Denoiser, FractionalStepLabels) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto t = torch::tensor({10.25f, 998.5f});
  auto c = conditioning_for(model_preset("fashion-mnist"), schedule, t);
  EXPECT_TRUE(torch::equal(c, t));
  auto v = conditioning_for(model_preset("keras-ddim"), schedule, t);
  for (int64_t i = 0; i < 2; ++i) {
    const double lo = 1.0 - schedule.alpha_bar(int64_t(std::floor(t[i].item<double>())));
    const double hi = 1.0 - schedule.alpha_bar(int64_t(std::ceil(t[i].item<double>())));
    EXPECT_GT(v[i].item<double>(), lo);
    EXPECT_LT(v[i].item<double>(), hi);
  }
}

TEST(Denoiser, DenoiseFnRunsTheModelWithoutGrad) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  for (const char* name : {"fashion-mnist", "bbno"}) {
    SCOPED_TRACE(name);
    UNetConfig config = model_preset(name);
    config.sample_size = 16;
    config.zero_init_out = false;
    UNet model(config);
    model->eval();
    auto fn = make_denoise_fn(model, schedule);
    auto x = torch::randn({2, config.in_channels, 16, 16});
    auto t = torch::tensor({int64_t(10), int64_t(800)});
    auto y = fn(x, t);
    EXPECT_FALSE(y.requires_grad());
    torch::NoGradGuard no_grad;
    auto expected = model->forward(x, conditioning_for(config, schedule, t));
    EXPECT_TRUE(torch::equal(y, expected));
  }
}

}  // namespace
}  // namespace ddpm

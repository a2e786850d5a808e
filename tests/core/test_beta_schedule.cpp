#include "core/beta_schedule.h"

#include "core/noise_schedule.h"
#include "test_util.h"

namespace ddpm {
namespace {

TEST(BetaSchedule, MatchesDiffusersAlphasCumprod) {
  auto ref = test::load_fixture("schedules.safetensors");
  for (auto kind :
       {BetaSchedule::linear, BetaSchedule::scaled_linear, BetaSchedule::squaredcos_cap_v2}) {
    ScheduleConfig config;
    config.beta_schedule = kind;
    auto schedule = make_noise_schedule(config);
    const auto& expected = ref.at("alphas_cumprod." + to_string(kind));
    // 1e-6 absolute: ᾱ ≤ 1, so the relative-to-max(1,|ref|) gap is the absolute one.
    EXPECT_TRUE(test::tensors_close(schedule.alphas_cumprod, expected, 1e-6)) << to_string(kind);
  }
}

TEST(BetaSchedule, LinearIsScaledByThousandOverT) {
  ScheduleConfig config;
  config.num_train_timesteps = 500;
  auto betas = make_betas(config);
  EXPECT_NEAR(betas[0].item<double>(), 2e-4, 1e-15);
  EXPECT_NEAR(betas[499].item<double>(), 0.04, 1e-15);
  EXPECT_EQ(betas.scalar_type(), torch::kFloat64);
}

TEST(BetaSchedule, CosineIsCappedAndMonotone) {
  ScheduleConfig config;
  config.beta_schedule = BetaSchedule::squaredcos_cap_v2;
  auto betas = make_betas(config);
  EXPECT_LE(betas.max().item<double>(), 0.999);
  EXPECT_DOUBLE_EQ(betas[-1].item<double>(), 0.999);
  EXPECT_TRUE((betas.slice(0, 1) >= betas.slice(0, 0, -1)).all().item<bool>());
}

TEST(BetaSchedule, KerasCosineEndpoints) {
  ScheduleConfig config;
  config.beta_schedule = BetaSchedule::keras_cosine;
  auto s = make_noise_schedule(config);
  // ᾱ at t = 1 is min_signal_rate²; at t = 1/T it is just below max_signal_rate².
  EXPECT_NEAR(s.alphas_cumprod[-1].item<double>(), 0.02 * 0.02, 1e-12);
  EXPECT_LT(s.alphas_cumprod[0].item<double>(), 0.95 * 0.95);
  EXPECT_GT(s.alphas_cumprod[0].item<double>(), 0.95 * 0.95 - 1e-3);
  auto t = torch::linspace(0, 1, 11, torch::kFloat64);
  auto [signal, noise] = keras_signal_noise_rates(t, 0.95, 0.02);
  EXPECT_TRUE(test::tensors_close(signal * signal + noise * noise, torch::ones_like(t), 1e-12));
  EXPECT_NEAR(signal[0].item<double>(), 0.95, 1e-12);
  EXPECT_NEAR(signal[-1].item<double>(), 0.02, 1e-12);
}

TEST(BetaSchedule, TrainedBetasAndErrors) {
  ScheduleConfig config;
  config.num_train_timesteps = 3;
  config.trained_betas = std::vector<double>{0.1, 0.2, 0.3};
  auto betas = make_betas(config);
  EXPECT_DOUBLE_EQ(betas[1].item<double>(), 0.2);
  config.trained_betas = std::vector<double>{0.1, 0.2};
  EXPECT_THROW(make_betas(config), c10::Error);
  try {
    parse_enum<BetaSchedule>("cosine");
    FAIL() << "no throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("squaredcos_cap_v2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ddpm

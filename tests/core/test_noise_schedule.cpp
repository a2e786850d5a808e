#include "core/noise_schedule.h"

#include "core/forward_process.h"
#include "core/prediction.h"
#include "test_util.h"

namespace ddpm {
namespace {

NoiseSchedule linear_schedule() {
  return make_noise_schedule(ScheduleConfig{});
}

TEST(NoiseSchedule, CoefficientIdentities) {
  auto s = linear_schedule();
  EXPECT_EQ(s.num_train_timesteps, 1000);
  EXPECT_DOUBLE_EQ(s.alphas_cumprod_prev[0].item<double>(), 1.0);
  EXPECT_TRUE(
      test::tensors_close(s.alphas_cumprod_prev.slice(0, 1), s.alphas_cumprod.slice(0, 0, -1), 0));
  // DDPM eq. (7): β̃_1 = 0, and the clipped log replaces it with β̃_2.
  EXPECT_DOUBLE_EQ(s.posterior_variance[0].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(s.posterior_log_variance_clipped[0].item<double>(),
                   std::log(s.posterior_variance[1].item<double>()));
  // A noiseless x_t = √ᾱ_t x_0 must have posterior mean √ᾱ_{t−1} x_0.
  auto lhs = s.posterior_mean_coef1 + s.posterior_mean_coef2 * s.sqrt_alphas_cumprod;
  EXPECT_TRUE(test::tensors_close(lhs, s.alphas_cumprod_prev.sqrt(), 1e-12));
  EXPECT_DOUBLE_EQ(s.alpha_bar(-1), 1.0);
  EXPECT_THROW(s.alpha_bar(1000), c10::Error);
}

TEST(ForwardProcess, QSampleHasTheClosedFormMoments) {
  auto s = linear_schedule();
  torch::manual_seed(0);
  const int64_t n = 20000;
  auto x0 = torch::full({n, 1, 1, 1}, 0.7);
  auto t = torch::full({n}, 300, torch::kLong);
  auto xt = q_sample(s, x0, t, torch::randn_like(x0));
  const double a = s.alpha_bar(300);
  EXPECT_NEAR(xt.mean().item<double>(), std::sqrt(a) * 0.7, 4 * std::sqrt((1 - a) / n));
  EXPECT_NEAR(xt.var().item<double>(), 1 - a, 0.05 * (1 - a));
}

TEST(ForwardProcess, PosteriorMatchesBayesOnAGaussianPair) {
  // For x_{t-1} ~ q(x_{t-1}|x_0) and x_t ~ q(x_t|x_{t-1}), regressing x_{t-1} on x_t at fixed x_0
  // gives μ̃ and β̃: check with the exact Gaussian conditioning formula.
  auto s = linear_schedule();
  const int64_t t = 10;
  const double ab_prev = s.alpha_bar(t - 1), beta = s.betas[t].item<double>();
  const double x0 = 0.3, xt = -0.2;
  // joint Gaussian: x_{t-1} mean m1 var v1; x_t = √α x_{t-1} + √β ε
  const double m1 = std::sqrt(ab_prev) * x0, v1 = 1 - ab_prev, alpha = 1 - beta;
  const double post_var = 1.0 / (1.0 / v1 + alpha / beta);
  const double post_mean = post_var * (m1 / v1 + std::sqrt(alpha) * xt / beta);
  auto p = q_posterior(s, torch::full({1, 1, 1, 1}, x0, torch::kFloat64),
                       torch::full({1, 1, 1, 1}, xt, torch::kFloat64),
                       torch::full({1}, t, torch::kLong));
  EXPECT_NEAR(p.mean.item<double>(), post_mean, 1e-12);
  EXPECT_NEAR(p.variance.item<double>(), post_var, 1e-12);
}

TEST(Prediction, ConversionsRoundTrip) {
  torch::manual_seed(1);
  auto x0 = torch::randn({3, 2, 4, 4}, torch::kFloat64), eps = torch::randn_like(x0);
  auto a = torch::tensor({0.9, 0.5, 0.01}, torch::kFloat64).view({3, 1, 1, 1});
  auto xt = a.sqrt() * x0 + (1 - a).sqrt() * eps;
  for (auto type :
       {PredictionType::epsilon, PredictionType::sample, PredictionType::v_prediction}) {
    auto target = prediction_target(type, x0, eps, a);
    auto p = split_prediction(type, target, xt, a);
    EXPECT_TRUE(test::tensors_close(p.x0, x0, 1e-10)) << to_string(type);
    EXPECT_TRUE(test::tensors_close(p.eps, eps, 1e-10)) << to_string(type);
  }
  EXPECT_TRUE(test::tensors_close(eps_from_x0(xt, x0, a), eps, 1e-10));
  EXPECT_THROW(parse_enum<PredictionType>("eps"), std::invalid_argument);
}

}  // namespace
}  // namespace ddpm

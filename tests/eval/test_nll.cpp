// Bits/dim of a known analytic case: a model that knows x_0 (its ε is exact) makes every
// posterior mean exact, so with fixed_small variances every KL term L_{t−1} vanishes and the bound
// is the prior term plus the decoder term, both in closed form; with fixed_large each KL is the
// closed-form ½(−1 + log β − log β̃ + β̃/β).
#include <gtest/gtest.h>

#include <cmath>

#include "eval/nll.h"
#include "test_util.h"

namespace ddpm {
namespace {

// ε for which x̂_0 = x_0 exactly: x_t = √ā x_0 + √(1−ā) ε.
DenoiseFn x0_oracle(const NoiseSchedule& schedule, torch::Tensor x0) {
  return [&schedule, x0](const torch::Tensor& x_t, const torch::Tensor& t) {
    auto a = extract(schedule.alphas_cumprod, t, x_t.dim(), x_t);
    return (x_t - a.sqrt() * x0) / (1 - a).sqrt();
  };
}

double phi(double x) {  // the reference's tanh approximation of Φ, written out independently
  return 0.5 * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

TEST(NLL, ExactModelGivesThePriorPlusTheDecoderInClosedForm) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  const int64_t T = schedule.num_train_timesteps;
  auto gen = at::detail::createCPUGenerator(1);
  auto pixels = torch::randint(0, 256, {2, 1, 4, 4}, gen, torch::kLong);
  pixels[0][0][0][0] = 0;  // both edge bins appear
  pixels[1][0][3][3] = 255;
  auto x0 = pixels.to(torch::kFloat64) / 127.5 - 1.0;

  // Decoder σ² = β̃ at step index 1 (β̃_1 = 0 is clipped, DDPM's posterior_log_variance_clipped).
  const double sigma = std::sqrt(schedule.posterior_variance[1].item<double>());
  const double a_T = schedule.alpha_bar(T - 1), half_bin = 1 / 255.0;
  std::vector<double> expected(2, 0.0);
  for (int64_t b = 0; b < 2; ++b) {
    double prior = 0, decoder = 0;
    for (int64_t i = 0; i < 16; ++i) {
      const int64_t v = pixels[b].flatten()[i].item<int64_t>();
      const double x = x0[b].flatten()[i].item<double>();
      prior += 0.5 * (-1 - std::log(1 - a_T) + (1 - a_T) + a_T * x * x);
      const double p = v == 0     ? phi(half_bin / sigma)
                       : v == 255 ? 1 - phi(-half_bin / sigma)
                                  : phi(half_bin / sigma) - phi(-half_bin / sigma);
      decoder += -std::log(p);
    }
    expected[b] = (prior + decoder) / (16 * std::log(2.0));
  }

  BpdOptions o;  // epsilon, fixed_small, clip
  auto r = calc_bpd_loop(x0_oracle(schedule, x0), schedule, o, x0, gen);
  EXPECT_EQ(r.terms_bpd.sizes(), (std::vector<int64_t>{2, T}));
  EXPECT_LT(r.terms_bpd.slice(1, 1).abs().max().item<double>(), 1e-9) << "every KL term is 0";
  EXPECT_LT(r.mse.abs().max().item<double>(), 1e-20) << "x̂_0 is exact";
  for (int64_t b = 0; b < 2; ++b)
    EXPECT_NEAR(r.total_bpd[b].item<double>(), expected[b], 1e-8) << "image " << b;

  // fixed_large: the same plus Σ_t ½(−1 + log β_t − log β̃_t + β̃_t/β_t) per dimension.
  double kl_sum = 0;
  for (int64_t t = 1; t < T; ++t) {
    const double beta = schedule.betas[t].item<double>();
    const double tilde = schedule.posterior_variance[t].item<double>();
    kl_sum += 0.5 * (-1 + std::log(beta) - std::log(tilde) + tilde / beta);
  }
  o.variance_type = VarianceType::fixed_large;
  auto large = calc_bpd_loop(x0_oracle(schedule, x0), schedule, o, x0, gen);
  for (int64_t b = 0; b < 2; ++b)
    EXPECT_NEAR(large.total_bpd[b].item<double>(), expected[b] + kl_sum / std::log(2.0), 1e-8);

  auto s = summarize_bpd({r});
  EXPECT_EQ(s.images, 2);
  EXPECT_NEAR(s.total, s.prior + s.diffusion + s.decoder, 1e-12);
  EXPECT_NEAR(s.total, (expected[0] + expected[1]) / 2, 1e-8);
}

TEST(NLL, AWorseModelHasAHigherBound) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto gen = at::detail::createCPUGenerator(2);
  auto x0 = torch::randint(0, 256, {2, 1, 4, 4}, gen, torch::kLong).to(torch::kFloat64) / 127.5 - 1;
  BpdOptions o;
  auto exact = calc_bpd_loop(x0_oracle(schedule, x0), schedule, o, x0, gen);
  DenoiseFn zero = [](const torch::Tensor& x_t, const torch::Tensor&) {
    return torch::zeros_like(x_t);
  };
  auto worse = calc_bpd_loop(zero, schedule, o, x0, gen);
  EXPECT_GT(worse.total_bpd.mean().item<double>(), exact.total_bpd.mean().item<double>() + 1.0);
}

TEST(NLL, RejectsDataOutsideMinusOneOne) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto gen = at::detail::createCPUGenerator(3);
  auto x0 = torch::full({1, 1, 2, 2}, 2.0);
  try {
    calc_bpd_loop(x0_oracle(schedule, x0), schedule, {}, x0, gen);
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("[-1, 1]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ddpm

// The bound's pure terms: Gaussian KL, the discretized decoder likelihood (a proper distribution
// over the 256 pixel values, close to exact normal-CDF differences) and the prior term in closed
// form.
#include <gtest/gtest.h>

#include <cmath>

#include "core/vlb.h"
#include "test_util.h"

namespace ddpm {
namespace {

double exact_cdf(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0));
}

TEST(VLB, NormalKlKnownValues) {
  auto z = torch::zeros({1}, torch::kFloat64), one = torch::ones({1}, torch::kFloat64);
  EXPECT_NEAR(normal_kl(z, z, z, z).item<double>(), 0.0, 1e-15);
  // KL(N(0, 1) ‖ N(1, e)) = ½(−1 + 1 − 0 + e⁻¹ + e⁻¹) = e⁻¹.
  EXPECT_NEAR(normal_kl(z, z, one, one).item<double>(), std::exp(-1.0), 1e-15);
}

TEST(VLB, ApproximateCdfIsCloseToTheNormalCdf) {
  auto x = torch::linspace(-6, 6, 1201, torch::kFloat64);
  auto approx = approx_standard_normal_cdf(x);
  double worst = 0;
  for (int64_t i = 0; i < x.size(0); ++i)
    worst = std::max(worst, std::abs(approx[i].item<double>() - exact_cdf(x[i].item<double>())));
  EXPECT_LT(worst, 3.5e-4) << "the tanh approximation's known error bound";
}

TEST(VLB, DiscretizedLikelihoodIsADistributionOverThe256Values) {
  // The bins [x − 1/255, x + 1/255] tile the line (the outer ones open), so the probabilities of
  // the 256 values telescope to exactly 1 for any mean and scale.
  auto values = torch::arange(256, torch::kFloat64) / 127.5 - 1.0;
  for (double mean : {-1.2, -0.3, 0.0, 0.77}) {
    for (double log_scale : {-5.0, -2.0, 0.0}) {
      auto means = torch::full({256}, mean, torch::kFloat64);
      auto scales = torch::full({256}, log_scale, torch::kFloat64);
      auto p = discretized_gaussian_log_likelihood(values, means, scales).exp();
      EXPECT_NEAR(p.sum().item<double>(), 1.0, 1e-9) << "mean " << mean << " log σ " << log_scale;
    }
  }
}

TEST(VLB, DiscretizedLikelihoodMatchesExactCdfDifferences) {
  const double sigma = 0.05, mean = 0.1;
  auto values = torch::arange(256, torch::kFloat64) / 127.5 - 1.0;
  auto logp =
      discretized_gaussian_log_likelihood(values, torch::full({256}, mean, torch::kFloat64),
                                          torch::full({256}, std::log(sigma), torch::kFloat64));
  for (int64_t k = 0; k < 256; ++k) {
    const double x = values[k].item<double>();
    const double hi = k == 255 ? 1.0 : exact_cdf((x + 1 / 255.0 - mean) / sigma);
    const double lo = k == 0 ? 0.0 : exact_cdf((x - 1 / 255.0 - mean) / sigma);
    const double p = std::exp(logp[k].item<double>());
    EXPECT_NEAR(p, std::max(hi - lo, 1e-12), 7e-4) << "value " << k;
  }
}

TEST(VLB, PriorTermInClosedForm) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  const double a = schedule.alpha_bar(999);
  auto x0 = torch::tensor({-1.0, 0.0, 0.5, 1.0}, torch::kFloat64).view({1, 1, 2, 2});
  double want = 0;
  for (double x : {-1.0, 0.0, 0.5, 1.0})
    want += 0.5 * (-1 - std::log(1 - a) + (1 - a) + a * x * x);  // KL(N(√ā x, 1−ā) ‖ N(0, 1))
  want /= 4 * std::log(2.0);
  EXPECT_NEAR(prior_bpd(schedule, x0).item<double>(), want, 1e-12);
}

TEST(VLB, TermIsTheDecoderAtStepZeroAndAKlElsewhere) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto x0 = torch::tensor({-1.0, 0.2}, torch::kFloat64).view({2, 1, 1, 1});
  auto x_t = torch::tensor({0.3, -0.1}, torch::kFloat64).view({2, 1, 1, 1});
  auto t = torch::tensor({0, 500}, torch::kLong);
  auto mean = torch::tensor({-0.98, 0.25}, torch::kFloat64).view({2, 1, 1, 1});
  auto log_var = torch::tensor({-8.0, -4.0}, torch::kFloat64).view({2, 1, 1, 1});
  auto out = vb_term_bpd(schedule, x0, x_t, t, mean, log_var);
  // t = 0: −log Φ̃((−1 + 1/255 − mean)/σ) for the edge value −1.
  auto edge = approx_standard_normal_cdf(
      torch::tensor({(-1 + 1 / 255.0 + 0.98) / std::exp(-4.0)}, torch::kFloat64));
  EXPECT_NEAR(out[0].item<double>(), -std::log(edge.item<double>()) / std::log(2.0), 1e-12);
  // t = 500: KL of the true posterior against N(mean, e^log_var).
  const double c1 = schedule.posterior_mean_coef1[500].item<double>();
  const double c2 = schedule.posterior_mean_coef2[500].item<double>();
  const double lv = schedule.posterior_log_variance_clipped[500].item<double>();
  const double mu = c1 * 0.2 + c2 * -0.1;
  const double kl =
      0.5 * (-1 - 4.0 - lv + std::exp(lv + 4.0) + std::pow(mu - 0.25, 2) * std::exp(4.0));
  EXPECT_NEAR(out[1].item<double>(), kl / std::log(2.0), 1e-9);
}

TEST(VLB, FixedLargeLogVarianceIsBetaWithTheFirstClipped) {
  auto s = make_noise_schedule(ScheduleConfig{});
  auto large = fixed_model_log_variance(s, true);
  EXPECT_NEAR(large[0].item<double>(), std::log(s.posterior_variance[1].item<double>()), 1e-15);
  EXPECT_NEAR(large[5].item<double>(), std::log(s.betas[5].item<double>()), 1e-15);
  EXPECT_TRUE(
      test::tensors_close(fixed_model_log_variance(s, false), s.posterior_log_variance_clipped, 0));
}

}  // namespace
}  // namespace ddpm

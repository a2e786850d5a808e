// DDIM inversion driven by the exact ε of Gaussian data (gaussian_oracle.h): decoding the codes
// with DDIM η = 0 over the same timesteps returns the images, ever more closely as the chain is
// refined, and the codes of data samples have the law of x_T (DDIM §4.3: the ODE maps q(x_0) to
// q(x_T)).
#include "samplers/ddim_inversion.h"

#include "core/timesteps.h"
#include "samplers/ddim.h"
#include "samplers/gaussian_oracle.h"
#include "test_util.h"

namespace ddpm {
namespace {

const auto kMean = torch::tensor({0.5, -1.0, 0.0, 2.0}, torch::kFloat64).view({1, 4, 1, 1});
const auto kStd = torch::tensor({0.2, 0.5, 1.0, 1.5}, torch::kFloat64).view({1, 4, 1, 1});

torch::Tensor data_samples(int64_t n, uint64_t seed) {
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  return kMean + kStd * torch::randn({n, 4, 1, 1}, gen, torch::kFloat64);
}

double round_trip_error(int64_t steps, const torch::Tensor& x0, int64_t iterations = 0) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto oracle = test::gaussian_oracle(schedule, kMean, kStd);
  auto ts = inference_timesteps(TimestepSpacing::leading, 1000, steps);
  DDIMInversionOptions inversion;
  inversion.fixed_point_iterations = iterations;
  auto codes = ddim_invert(oracle, schedule, inversion, ts, x0);
  DDIMOptions o;
  o.clip_sample = false;
  auto back = ddim_sample(oracle, schedule, o, ts, codes, {});
  return (back - x0).abs().max().item<double>();
}

// Plain inversion evaluates ε one level off from where decoding does, an O(1/S²) error per
// step and O(1/S) over the S steps (Euler): the error falls in proportion to 1/S. Measured
// here (data with |x| up to ~6): 0.58, 0.26, 0.13, 0.054 at 20, 50, 100, 250 steps, i.e.
// S · error ≈ 12–13 throughout.
TEST(DDIMInversion, RoundTripReturnsTheImagesAndTightensWithSteps) {
  auto x0 = data_samples(256, 3);
  double previous = 1e9;
  for (int64_t steps : {20, 50, 100, 250}) {
    const double err = round_trip_error(steps, x0);
    std::cout << "steps " << steps << " max |x0 - decode(encode(x0))| = " << err << "\n";
    EXPECT_LT(err, previous) << steps;
    EXPECT_LT(double(steps) * err, 15.0) << "not first order in 1/S at " << steps << " steps";
    previous = err;
  }
  EXPECT_LT(previous, 0.06);  // 250 steps
}

// Fixed-point refinement makes encoding the exact inverse of decoding up to the iteration's
// convergence: at 50 steps, 3 refinements take the error far below plain inversion's.
TEST(DDIMInversion, FixedPointRefinementMakesTheRoundTripExact) {
  auto x0 = data_samples(256, 3);
  const double plain = round_trip_error(50, x0);
  double previous = plain;
  for (int64_t k : {1, 3, 6}) {
    const double err = round_trip_error(50, x0, k);
    std::cout << k << " refinements: max error " << err << " (plain " << plain << ")\n";
    EXPECT_LT(err, previous) << k;
    previous = err;
  }
  EXPECT_LT(previous, 1e-3 * plain);
  auto schedule = make_noise_schedule(ScheduleConfig{});
  DDIMInversionOptions bad;
  bad.fixed_point_iterations = -1;
  EXPECT_THROW(ddim_invert(test::gaussian_oracle(schedule, kMean, kStd), schedule, bad, {10}, x0),
               c10::Error);
}

TEST(DDIMInversion, CodesOfDataSamplesFollowTheLawOfXT) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto oracle = test::gaussian_oracle(schedule, kMean, kStd);
  auto ts = inference_timesteps(TimestepSpacing::leading, 1000, 100);
  const int64_t n = 8000;
  auto codes = ddim_invert(oracle, schedule, {}, ts, data_samples(n, 5));
  const double a = schedule.alpha_bar(ts.front());
  auto m = std::sqrt(a) * kMean, v = a * kStd.pow(2) + (1 - a);  // q(x_t) at the last step
  auto mean = codes.mean({0}, true), var = codes.var(0, true, true);
  EXPECT_TRUE(((mean - m).abs() < 5 * v.sqrt() / std::sqrt(n) + 0.01).all().item<bool>())
      << mean.flatten() << " vs " << m.flatten();
  EXPECT_TRUE(((var - v).abs() < 5 * v * std::sqrt(2.0 / (n - 1)) + 0.02).all().item<bool>())
      << var.flatten() << " vs " << v.flatten();
}

TEST(DDIMInversion, OneStepIsTheUpwardDDIMUpdate) {
  // From the clean end (t = −1, ᾱ = 1) x̂_0 is x_0 itself and x_{t'} = √ᾱ' x_0 + √(1−ᾱ') ε̂.
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto x0 = torch::randn({2, 3, 4, 4}), eps = torch::randn_like(x0);
  auto step = ddim_inversion_step(schedule, {}, eps, x0, x0, -1, 40);
  const double a = schedule.alpha_bar(40);
  EXPECT_TRUE(test::tensors_close(step.pred_x0, x0, 1e-6));
  EXPECT_TRUE(
      test::tensors_close(step.next_sample, std::sqrt(a) * x0 + std::sqrt(1 - a) * eps, 1e-6));
  // It inverts one DDIM step exactly when ε does not depend on x: decode(encode(x)) = x.
  auto up = ddim_inversion_step(schedule, {}, eps, x0, x0, 20, 40).next_sample;
  DDIMOptions o;
  o.clip_sample = false;
  auto down = ddim_step(schedule, o, eps, up, 40, 20, {}).prev_sample;
  EXPECT_TRUE(test::tensors_close(down, x0, 1e-5));
}

TEST(DDIMInversion, RejectsBadSequences) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto oracle = test::gaussian_oracle(schedule, kMean, kStd);
  auto x0 = data_samples(2, 1);
  EXPECT_THROW(ddim_invert(oracle, schedule, {}, {}, x0), c10::Error);
  EXPECT_THROW(ddim_invert(oracle, schedule, {}, {10, 20}, x0), c10::Error);
}

}  // namespace
}  // namespace ddpm

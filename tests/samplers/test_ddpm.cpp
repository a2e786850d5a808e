#include "samplers/ddpm.h"

#include "core/timesteps.h"
#include "samplers/gaussian_oracle.h"
#include "samplers/noise_source.h"
#include "test_util.h"

namespace ddpm {
namespace {

TEST(DDPMStep, MatchesDiffusersDDPMScheduler) {
  auto ref = test::load_fixture("ddpm-step.safetensors");
  auto schedule = make_noise_schedule(ScheduleConfig{});
  for (auto variance : {VarianceType::fixed_small, VarianceType::fixed_large}) {
    for (int64_t t : {1, 500, 999}) {
      DDPMOptions options;
      options.variance_type = variance;
      auto step = ddpm_step(schedule, options, ref.at("eps"), ref.at("x_t"), t, t - 1, ref.at("z"));
      const auto key = "prev." + to_string(variance) + ".t" + std::to_string(t);
      // diffusers keeps ᾱ in float32; at t = 1 its coefficients divide by 1 − ᾱ_1 ≈ 2.2e-4,
      // whose float32 rounding alone is ~3e-4 relative. We compute the schedule in float64, so
      // there the two agree to 1e-4; elsewhere to 1e-5.
      const double tol = t == 1 ? 1e-4 : 1e-5;
      EXPECT_TRUE(test::tensors_close(step.prev_sample, ref.at(key), tol)) << key;
    }
  }
}

// improved DDPM eq. (15): v = +1 gives σ² = β (fixed_large), v = −1 gives β̃ (fixed_small), on the
// full chain and on a strided step (the respaced β and β̃); the prediction channels give the mean.
TEST(DDPMStep, LearnedRangeInterpolatesBetweenTheFixedVariances) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  torch::manual_seed(0);
  auto x = torch::randn({2, 3, 4, 4}), eps = torch::randn({2, 3, 4, 4}),
       z = torch::randn({2, 3, 4, 4});
  for (auto [t, t_prev] : {std::pair<int64_t, int64_t>{500, 499}, {900, 800}}) {
    DDPMOptions fixed, learned;
    learned.variance_type = VarianceType::learned_range;
    for (double v : {1.0, -1.0}) {
      fixed.variance_type = v > 0 ? VarianceType::fixed_large : VarianceType::fixed_small;
      auto out = torch::cat({eps, torch::full_like(eps, v)}, 1);
      auto a = ddpm_step(schedule, learned, out, x, t, t_prev, z).prev_sample;
      auto b = ddpm_step(schedule, fixed, eps, x, t, t_prev, z).prev_sample;
      EXPECT_TRUE(test::tensors_close(a, b, 1e-6)) << t << " v " << v;
    }
  }
  DDPMOptions learned;
  learned.variance_type = VarianceType::learned_range;
  EXPECT_THROW(ddpm_step(schedule, learned, eps, x, 500, 499, z), c10::Error);  // C, not 2·C
}

TEST(DDPMStep, LastStepAddsNoNoise) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto x = torch::randn({2, 1, 4, 4});
  auto step = ddpm_step(schedule, {}, torch::zeros_like(x), x, 0, -1, torch::Tensor());
  // At t = 0 with ε̂ = 0: x̂_0 = x/√ᾱ_0 clipped, and x_prev = x̂_0 (posterior mean at ᾱ_prev = 1).
  EXPECT_TRUE(test::tensors_close(step.prev_sample, step.pred_x0, 1e-6));
}

// Algorithm 2 with the exact ε must give back N(μ, σ²).
TEST(DDPMSample, ReproducesGaussianDataMoments) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto mean = torch::tensor({0.5, -1.0, 0.0, 2.0}).view({1, 4, 1, 1});
  auto stddev = torch::tensor({0.2, 0.5, 1.0, 1.5}).view({1, 4, 1, 1});
  DDPMOptions options;
  options.clip_sample = false;
  torch::Generator gen = at::detail::createCPUGenerator(7);
  const int64_t n = 4000;
  auto x_T = draw_noise({n, 4, 1, 1}, torch::kFloat32, gen);
  auto timesteps = inference_timesteps(TimestepSpacing::leading, 1000, 1000);
  int64_t calls = 0;
  auto x0 = ddpm_sample(test::gaussian_oracle(schedule, mean, stddev), schedule, options, timesteps,
                        x_T, batch_noise(gen), [&](const SamplerStep&) { ++calls; });
  EXPECT_EQ(calls, 1000);
  auto m = x0.mean({0}, true), s = x0.std(0, true, true);
  // 5 standard errors: σ/√n for the mean, σ·√(1/(2n)) for the standard deviation.
  auto mean_tol = 5 * stddev / std::sqrt(double(n));
  auto std_tol = 5 * stddev / std::sqrt(2.0 * n);
  EXPECT_TRUE(((m - mean).abs() < mean_tol).all().item<bool>()) << m << mean;
  EXPECT_TRUE(((s - stddev).abs() < std_tol).all().item<bool>()) << s << stddev;
}

TEST(DDPMSample, SameSeedSameSamples) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto oracle = test::gaussian_oracle(schedule, torch::zeros({1}), torch::ones({1}));
  auto timesteps = inference_timesteps(TimestepSpacing::leading, 1000, 50);
  auto run = [&](uint64_t seed) {
    torch::Generator gen = at::detail::createCPUGenerator(seed);
    auto x = draw_noise({8, 1, 2, 2}, torch::kFloat32, gen);
    return ddpm_sample(oracle, schedule, {}, timesteps, x, batch_noise(gen));
  };
  EXPECT_TRUE(torch::equal(run(3), run(3)));
  EXPECT_FALSE(torch::equal(run(3), run(4)));
}

}  // namespace
}  // namespace ddpm

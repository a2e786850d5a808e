// Interpolation: the λ parser, and with the Gaussian oracle: columns of an x_t mix differ only by
// λ (shared noise), slerp-decoded codes start and end on the decoded endpoints.
#include "experiments/interpolate.h"

#include "core/timesteps.h"
#include "experiments/latent_codes.h"
#include "samplers/gaussian_oracle.h"
#include "test_util.h"

namespace ddpm {
namespace {

TEST(Lambdas, RangesIncludeTheirEndAndListsParse) {
  auto l = parse_lambdas("0:1:0.1");
  ASSERT_EQ(l.size(), 11u);
  EXPECT_EQ(l.front(), 0.0);
  EXPECT_EQ(l.back(), 1.0);
  EXPECT_NEAR(l[3], 0.3, 1e-12);
  EXPECT_EQ(parse_lambdas("0,0.5,1"), (std::vector<double>{0, 0.5, 1}));
  EXPECT_EQ(parse_lambdas("0.25"), (std::vector<double>{0.25}));
  EXPECT_EQ(parse_lambdas("0:1:0.3").size(), 4u);  // 0, 0.3, 0.6, 0.9
  for (const char* bad : {"0:1", "a,b", "0:2:0.5", "1:0:0.1", "0:1:0", "0,,1", "-0.1", ""})
    EXPECT_THROW(parse_lambdas(bad), std::invalid_argument) << bad;
}

struct Oracle {
  NoiseSchedule schedule = make_noise_schedule(ScheduleConfig{});
  DenoiseFn fn =
      test::gaussian_oracle(schedule, torch::zeros({1, 1, 1, 1}), torch::full({1, 1, 1, 1}, 0.5));
};

TEST(InterpolateXt, ColumnsDifferOnlyByLambda) {
  Oracle o;
  torch::Generator g = at::detail::createCPUGenerator(0);
  auto a = 0.5 * torch::randn({2, 1, 4, 4}, g), b = 0.5 * torch::randn({2, 1, 4, 4}, g);
  SamplingConfig s;
  s.sampler = default_sampler_config(SamplerKind::ddpm);
  auto run = [&](const std::vector<double>& lambdas, const torch::Tensor& second) {
    torch::Generator gen = at::detail::createCPUGenerator(3);
    return interpolate_xt(o.fn, o.schedule, PredictionType::epsilon, s, a, second, {50, 200},
                          lambdas, 10, gen);
  };
  auto mix = run({0, 0.5, 1}, b);
  EXPECT_EQ(mix.sizes(), (std::vector<int64_t>{4, 3, 1, 4, 4}));  // (t, pair) rows, λ columns
  auto alone = run({0}, b);
  EXPECT_TRUE(torch::equal(mix.select(1, 0), alone.select(1, 0)))
      << "λ = 0 decodes x_t of the first image with the same noise, whatever the other λ";
  auto same = run({0, 0.5, 1}, a);  // both ends the same image: every column the same
  EXPECT_TRUE(torch::allclose(same.select(1, 0), same.select(1, 2), 1e-6, 1e-6));
  EXPECT_FALSE(torch::equal(mix.select(1, 0), mix.select(1, 2)));
  torch::Generator gen = at::detail::createCPUGenerator(3);
  EXPECT_THROW(
      interpolate_xt(o.fn, o.schedule, PredictionType::epsilon, s, a, b, {1001}, {0.5}, 0, gen),
      std::invalid_argument);
}

TEST(InterpolateCodes, EndsAreTheDecodedCodes) {
  Oracle o;
  torch::Generator g = at::detail::createCPUGenerator(1);
  auto ca = torch::randn({2, 1, 4, 4}, g), cb = torch::randn({2, 1, 4, 4}, g);
  SamplingConfig s;
  s.sampler.clip_sample = false;
  auto ts = inference_timesteps(TimestepSpacing::leading, 1000, 20);
  auto rows =
      interpolate_codes(o.fn, o.schedule, PredictionType::epsilon, s, ts, ca, cb, {0, 0.5, 1});
  EXPECT_EQ(rows.sizes(), (std::vector<int64_t>{2, 3, 1, 4, 4}));
  auto da = decode_codes(o.fn, o.schedule, PredictionType::epsilon, s, ts, ca);
  auto db = decode_codes(o.fn, o.schedule, PredictionType::epsilon, s, ts, cb);
  EXPECT_TRUE(test::tensors_close(rows.select(1, 0), da, 1e-6));
  EXPECT_TRUE(test::tensors_close(rows.select(1, 2), db, 1e-6));
  auto tiles = interpolation_tiles(rows, da, db);
  EXPECT_EQ(tiles.sizes(), (std::vector<int64_t>{2, 5, 1, 4, 4}));
  EXPECT_TRUE(torch::equal(tiles.select(1, 0), da));
}

}  // namespace
}  // namespace ddpm

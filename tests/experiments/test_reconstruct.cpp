// reconstruct with the Gaussian oracle: t = 1 gives the images back, t = T keeps nothing of them,
// the tiles have the figure's layout, and one seed gives one result.
#include "experiments/reconstruct.h"

#include "samplers/gaussian_oracle.h"
#include "test_util.h"

namespace ddpm {
namespace {

struct OracleCase {
  NoiseSchedule schedule = make_noise_schedule(ScheduleConfig{});
  DenoiseFn oracle =
      test::gaussian_oracle(schedule, torch::zeros({1, 1, 1, 1}), torch::full({1, 1, 1, 1}, 0.5));
  torch::Tensor x0 = 0.5 * torch::randn({4, 1, 8, 8}, at::detail::createCPUGenerator(2));
  Codec codec;  // pixels in [-1, 1]
};

Reconstruction run(OracleCase& s, const ReconstructRequest& r, uint64_t seed) {
  SamplingConfig sampling;
  sampling.sampler = default_sampler_config(SamplerKind::ddpm);
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  return reconstruct(s.oracle, s.schedule, PredictionType::epsilon, sampling, s.x0, s.codec, r,
                     gen);
}

TEST(Reconstruct, SmallTGivesTheImageBackLargeTForgetsIt) {
  OracleCase s;
  ReconstructRequest r;
  r.from_steps = {1, 1000};
  r.per_image = 2;
  auto rec = run(s, r, 0);
  EXPECT_EQ(rec.noisy.sizes(), (std::vector<int64_t>{2, 4, 1, 8, 8}));
  EXPECT_EQ(rec.samples.sizes(), (std::vector<int64_t>{2, 4, 2, 1, 8, 8}));
  ASSERT_EQ(rec.mse.size(), 2u);
  std::cout << "pixel MSE from t=1: " << rec.mse[0] << ", from t=1000: " << rec.mse[1] << "\n";
  EXPECT_LT(rec.mse[0], 1e-4);
  // Independent draws of N(0, 0.25) in model units: E(x − x0)² = 0.5, in pixels /4 = 0.125.
  EXPECT_GT(rec.mse[1], 0.06);
  EXPECT_LT(rec.mse[1], 0.2);
}

TEST(Reconstruct, SameSeedSameResultAndTheTilesLayout) {
  OracleCase s;
  ReconstructRequest r;
  r.from_steps = {10, 50};
  r.per_image = 3;
  r.steps = 5;
  auto a = run(s, r, 4), b = run(s, r, 4), c = run(s, r, 5);
  EXPECT_TRUE(torch::equal(a.samples, b.samples));
  EXPECT_FALSE(torch::equal(a.samples, c.samples));
  auto tiles = reconstruction_tiles(s.x0, a);
  EXPECT_EQ(tiles.sizes(), (std::vector<int64_t>{3, 4 * 4, 1, 8, 8}));
  EXPECT_TRUE(torch::equal(tiles[0][0], s.x0[0]));
  EXPECT_TRUE(tiles[0][1].isnan().all().item<bool>()) << "empty cells beside the originals";
  EXPECT_TRUE(torch::equal(tiles[2][4], a.noisy[1][1]));
  EXPECT_TRUE(torch::equal(tiles[2][5], a.samples[1][1][0]));
}

TEST(Reconstruct, StartStepsOutsideOneToTAreErrors) {
  OracleCase s;
  ReconstructRequest r;
  r.from_steps = {0};
  EXPECT_THROW(run(s, r, 0), std::invalid_argument);
  r.from_steps = {1001};
  EXPECT_THROW(run(s, r, 0), std::invalid_argument);
  r.from_steps = {10};
  r.per_image = 0;
  EXPECT_THROW(run(s, r, 0), std::invalid_argument);
}

}  // namespace
}  // namespace ddpm

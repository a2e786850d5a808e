// Codes files round-trip, foreign files are refused, and encode → decode returns the images.
#include "experiments/latent_codes.h"

#include "core/timesteps.h"
#include "io/safetensors.h"
#include "samplers/gaussian_oracle.h"
#include "test_util.h"

namespace ddpm {
namespace {

TEST(LatentCodes, FileRoundTripsAndForeignFilesAreRefused) {
  test::TempDir dir;
  LatentCodes codes{
      torch::randn({2, 3, 4, 4}), torch::rand({2, 3, 4, 4}), {40, 20, 0}, {{"model", "runs/x"}}};
  write_latent_codes(dir.path / "c.safetensors", codes);
  auto back = read_latent_codes(dir.path / "c.safetensors");
  EXPECT_TRUE(torch::equal(back.x_T, codes.x_T));
  EXPECT_TRUE(torch::equal(back.x_0, codes.x_0));
  EXPECT_EQ(back.timesteps, codes.timesteps);
  EXPECT_EQ(back.info.at("model"), "runs/x");
  write_safetensors(dir.path / "other.safetensors", {{"x_T", torch::zeros({1, 1, 2, 2})}});
  EXPECT_THROW(read_latent_codes(dir.path / "other.safetensors"), std::runtime_error);
}

TEST(LatentCodes, EncodeThenDecodeReturnsTheImages) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto oracle =
      test::gaussian_oracle(schedule, torch::zeros({1, 1, 1, 1}), torch::full({1, 1, 1, 1}, 0.5));
  torch::Generator g = at::detail::createCPUGenerator(0);
  auto x0 = (0.5 * torch::randn({3, 1, 8, 8}, g)).clamp(-1, 1);
  SamplingConfig s;     // clip_sample on: decode_codes must ignore it
  Codec normalization;  // pixels in [-1, 1]
  double previous = 1e9;
  for (int64_t steps : {20, 50, 100}) {
    auto ts = inference_timesteps(TimestepSpacing::leading, 1000, steps);
    auto codes = encode_images(oracle, schedule, PredictionType::epsilon, s, ts, x0);
    auto back = decode_codes(oracle, schedule, PredictionType::epsilon, s, ts, codes);
    auto e = round_trip_error(back, x0, normalization);
    std::cout << steps << " steps: mse " << e.mse << " max " << e.max_abs << " pixel mse "
              << e.pixel_mse << "\n";
    EXPECT_LT(e.mse, previous);
    previous = e.mse;
    // DDIM Table 2's level: per-dimension MSE ~1e-3 at 50 steps (measured here: 6.0e-4 at 50,
    // 1.5e-4 at 100).
    if (steps >= 50) {
      EXPECT_LT(e.mse, 1e-3);
    }
  }
  // With fixed-point refinement the round trip is exact to float rounding levels.
  auto ts = inference_timesteps(TimestepSpacing::leading, 1000, 50);
  auto codes = encode_images(oracle, schedule, PredictionType::epsilon, s, ts, x0, 6);
  auto e = round_trip_error(decode_codes(oracle, schedule, PredictionType::epsilon, s, ts, codes),
                            x0, normalization);
  std::cout << "50 steps, 6 fixed-point iterations: max " << e.max_abs << "\n";
  EXPECT_LT(e.max_abs, 1e-4);
  EXPECT_EQ(e.pixel_mse, 0.0);
}

TEST(LatentCodes, RoundTripErrorNumbers) {
  auto a = torch::zeros({1, 1, 2, 2}), b = torch::zeros({1, 1, 2, 2});
  b[0][0][0][0] = 0.5;
  auto e = round_trip_error(a, b, Codec());
  EXPECT_DOUBLE_EQ(e.mse, 0.0625);
  EXPECT_DOUBLE_EQ(e.max_abs, 0.5);
  // 0 → 127.5 rounds to 128, 0.5 → 191.25 rounds to 191: one pixel 63/255 apart.
  EXPECT_NEAR(e.pixel_mse, std::pow(63.0 / 255, 2) / 4, 1e-12);
}

}  // namespace
}  // namespace ddpm

#include "core/timesteps.h"

#include "test_util.h"

namespace ddpm {
namespace {

using V = std::vector<int64_t>;

TEST(Timesteps, DiffusersSpacings) {
  EXPECT_EQ(inference_timesteps(TimestepSpacing::leading, 1000, 10),
            (V{900, 800, 700, 600, 500, 400, 300, 200, 100, 0}));
  EXPECT_EQ(inference_timesteps(TimestepSpacing::leading, 1000, 10, 1),
            (V{901, 801, 701, 601, 501, 401, 301, 201, 101, 1}));
  EXPECT_EQ(inference_timesteps(TimestepSpacing::linspace, 1000, 10),
            (V{999, 888, 777, 666, 555, 444, 333, 222, 111, 0}));
  EXPECT_EQ(inference_timesteps(TimestepSpacing::trailing, 1000, 7),
            (V{999, 856, 713, 570, 428, 285, 142}));
  // Halves round to even, as numpy does (np.linspace(0, 999, 7).round(), np.round(np.arange(
  // 1000, 0, -62.5)) - 1).
  EXPECT_EQ(inference_timesteps(TimestepSpacing::linspace, 1000, 7),
            (V{999, 832, 666, 500, 333, 166, 0}));
  EXPECT_EQ(inference_timesteps(TimestepSpacing::trailing, 1000, 16),
            (V{999, 937, 874, 811, 749, 687, 624, 561, 499, 437, 374, 311, 249, 187, 124, 61}));
  EXPECT_EQ(inference_timesteps(TimestepSpacing::trailing, 1000, 3), (V{999, 666, 332}));
  auto full = inference_timesteps(TimestepSpacing::leading, 1000, 1000);
  EXPECT_EQ(full.size(), 1000u);
  EXPECT_EQ(full.front(), 999);
  EXPECT_EQ(full.back(), 0);
}

TEST(Timesteps, LeadingMatchesTheDiffusersDDIMRun) {
  auto ref = test::load_fixture("tiny-unet/ddim-10-leading.safetensors").at("timesteps");
  auto ours = inference_timesteps(TimestepSpacing::leading, 1000, 10);
  ASSERT_EQ(ref.numel(), int64_t(ours.size()));
  for (size_t i = 0; i < ours.size(); ++i) EXPECT_EQ(ref[i].item<int64_t>(), ours[i]) << i;
}

TEST(Timesteps, QuadraticFollowsTheDDIMCode) {
  // DDIM runners/diffusion.py: (np.linspace(0, sqrt(0.8 T), S) ** 2).astype(int)
  EXPECT_EQ(inference_timesteps(TimestepSpacing::quadratic, 1000, 5), (V{800, 450, 200, 50, 0}));
  auto q50 = inference_timesteps(TimestepSpacing::quadratic, 1000, 50);
  EXPECT_EQ(q50.size(), 49u);  // the two leading zeros collapse into one step
  EXPECT_EQ(q50.front(), 800);
  EXPECT_EQ(q50.back(), 0);
}

TEST(Timesteps, RejectsBadCounts) {
  EXPECT_THROW(inference_timesteps(TimestepSpacing::leading, 1000, 0), std::invalid_argument);
  EXPECT_THROW(inference_timesteps(TimestepSpacing::leading, 1000, 1001), std::invalid_argument);
  EXPECT_THROW(inference_timesteps(TimestepSpacing::leading, 1000, 10, 100), std::invalid_argument);
}

// ermongroup/ddim's range(0, T, T // S) — one more step when T // S does not divide T — and
// improved-diffusion's space_timesteps("ddimS"), the first stride giving exactly S steps.
TEST(InferenceTimesteps, UniformAndStridedFollowThePapersCode) {
  auto desc = [](int64_t from, int64_t step, int64_t end) {
    std::vector<int64_t> v;
    for (int64_t t = from; t < end; t += step) v.insert(v.begin(), t);
    return v;
  };
  EXPECT_EQ(inference_timesteps(TimestepSpacing::uniform, 1000, 10), desc(0, 100, 1000));
  EXPECT_EQ(inference_timesteps(TimestepSpacing::uniform, 1000, 7), desc(0, 142, 1000));  // 8
  EXPECT_EQ(inference_timesteps(TimestepSpacing::strided, 1000, 10), desc(0, 100, 1000));
  EXPECT_EQ(inference_timesteps(TimestepSpacing::strided, 1000, 7), desc(0, 143, 1000));  // 7
  EXPECT_EQ(inference_timesteps(TimestepSpacing::strided, 1000, 1000).size(), 1000u);
  EXPECT_THROW(inference_timesteps(TimestepSpacing::strided, 1000, 999), std::invalid_argument);
}

}  // namespace
}  // namespace ddpm

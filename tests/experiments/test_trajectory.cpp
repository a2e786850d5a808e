// sample_trajectory with the Gaussian oracle: the first column is x_T, the last is exactly what
// the sampler returns from the same x_T and generator, and long chains are thinned evenly.
#include "experiments/trajectory.h"

#include "core/timesteps.h"
#include "samplers/gaussian_oracle.h"
#include "samplers/noise_source.h"
#include "test_util.h"

namespace ddpm {
namespace {

const auto kMean = torch::tensor({0.3}).view({1, 1, 1, 1});
const auto kStd = torch::tensor({0.4}).view({1, 1, 1, 1});

TEST(TrajectoryColumns, KeepsEveryStateThatFitsElseThinsEvenly) {
  EXPECT_EQ(trajectory_columns(5, 20), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  auto c = trajectory_columns(1001, 20);
  ASSERT_EQ(c.size(), 20u);
  EXPECT_EQ(c.front(), 0);
  EXPECT_EQ(c.back(), 1000);
  for (size_t i = 1; i < c.size(); ++i) {
    EXPECT_GT(c[i], c[i - 1]);
    EXPECT_NEAR(double(c[i] - c[i - 1]), 1000.0 / 19, 1.0);
  }
  EXPECT_EQ(trajectory_columns(21, 20).size(), 20u);
  EXPECT_THROW(trajectory_columns(0, 20), std::invalid_argument);
  EXPECT_THROW(trajectory_columns(10, 1), std::invalid_argument);
}

TEST(Trajectory, StartsAtXTAndEndsOnTheSamplersOutput) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto oracle = test::gaussian_oracle(schedule, kMean, kStd);
  for (auto kind : {SamplerKind::ddim, SamplerKind::ddpm}) {
    SamplerConfig s = default_sampler_config(kind);
    s.steps = kind == SamplerKind::ddim ? 20 : 100;
    s.clip_sample = false;
    const auto ts = sampler_timesteps(s, schedule);
    torch::Generator g0 = at::detail::createCPUGenerator(7);
    auto x_T = torch::randn({3, 1, 4, 4}, g0);
    torch::Generator g1 = at::detail::createCPUGenerator(9), g2 = at::detail::createCPUGenerator(9);
    TrajectoryRequest r;
    r.max_columns = 8;
    auto traj = sample_trajectory({oracle, schedule, PredictionType::epsilon, batch_noise(g1), {}},
                                  s, x_T, r);
    auto reference =
        run_sampler(s, {oracle, schedule, PredictionType::epsilon, batch_noise(g2), {}}, x_T);
    const int64_t K = int64_t(traj.states.size());
    EXPECT_EQ(K, 8);
    EXPECT_EQ(traj.x_t.sizes(), (std::vector<int64_t>{3, K, 1, 4, 4}));
    EXPECT_EQ(traj.pred_x0.sizes(), traj.x_t.sizes());
    EXPECT_TRUE(torch::equal(traj.x_t.select(1, 0), x_T)) << "first column is x_T";
    EXPECT_TRUE(torch::equal(traj.x_t.select(1, K - 1), reference)) << "last is the sample";
    EXPECT_TRUE(torch::equal(traj.pred_x0.select(1, K - 1), reference));
    EXPECT_EQ(traj.timesteps.front(), ts.front());
    EXPECT_EQ(traj.timesteps.back(), -1);
    // The prediction from x_T is far closer to the data mean than x_T is.
    EXPECT_LT((traj.pred_x0.select(1, 0) - 0.3).abs().mean().item<double>(),
              (x_T - 0.3).abs().mean().item<double>());
  }
}

}  // namespace
}  // namespace ddpm

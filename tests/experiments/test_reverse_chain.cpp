// chain_from's sub-sequences, and run_sampler over them from a noised sample: the samplers' own
// draws per element, or one draw for the whole batch with shared_noise.
#include "experiments/reverse_chain.h"

#include "samplers/gaussian_oracle.h"
#include "samplers/noise_source.h"
#include "samplers/sampler_registry.h"
#include "test_util.h"

namespace ddpm {
namespace {

TEST(ChainFrom, EveryStepOrAnEvenSubsequence) {
  EXPECT_EQ(chain_from(3, 0), (std::vector<int64_t>{3, 2, 1, 0}));
  EXPECT_EQ(chain_from(3, 10), (std::vector<int64_t>{3, 2, 1, 0}));
  EXPECT_EQ(chain_from(0, 0), (std::vector<int64_t>{0}));
  EXPECT_EQ(chain_from(999, 5), (std::vector<int64_t>{999, 749, 500, 250, 0}));
  EXPECT_EQ(chain_from(10, 1), (std::vector<int64_t>{10}));
  EXPECT_THROW(chain_from(-1, 0), std::invalid_argument);
}

TEST(ReverseChain, RunsFromASampleAndSharesNoiseWhenAsked) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto oracle =
      test::gaussian_oracle(schedule, torch::zeros({1, 1, 1, 1}), torch::full({1, 1, 1, 1}, 0.5));
  const SamplerConfig s = default_sampler_config(SamplerKind::ddpm);
  auto ts = chain_from(99, 0);
  auto x = torch::randn({1, 1, 4, 4}).expand({3, 1, 4, 4}).contiguous();  // three equal starts
  torch::Generator g1 = at::detail::createCPUGenerator(1), g2 = at::detail::createCPUGenerator(1);
  auto own = run_sampler(s, {oracle, schedule, PredictionType::epsilon, batch_noise(g1), {}}, x, ts,
                         SamplerStart::sample);
  DDPMOptions o;
  auto reference = ddpm_sample(oracle, schedule, o, ts, x, batch_noise(g2));
  EXPECT_TRUE(torch::equal(own, reference)) << "an explicit chain steps to the next entry";
  EXPECT_FALSE(torch::equal(own[0], own[1])) << "independent draws per element";
  torch::Generator g3 = at::detail::createCPUGenerator(1);
  auto shared = run_sampler(s, {oracle, schedule, PredictionType::epsilon, shared_noise(g3), {}}, x,
                            ts, SamplerStart::sample);
  EXPECT_TRUE(torch::equal(shared[0], shared[1]));
  EXPECT_TRUE(torch::equal(shared[0], shared[2]));
}

}  // namespace
}  // namespace ddpm

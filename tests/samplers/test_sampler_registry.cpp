// The sampler seam: SamplerConfig's option table (JSON, overrides, validation), the registry's
// dispatch and grids, diffusers' previous-timestep rule, per-image noise and continuous time.
#include "samplers/sampler_registry.h"

#include "core/timesteps.h"
#include "samplers/ddim.h"
#include "samplers/gaussian_oracle.h"
#include "samplers/noise_source.h"
#include "test_util.h"

namespace ddpm {
namespace {

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(SamplerConfig, JsonRoundTripKeepsEveryField) {
  SamplerConfig c = default_sampler_config(SamplerKind::ddim);
  c.steps = 17;
  c.timestep_spacing = TimestepSpacing::trailing;
  c.steps_offset = 1;
  c.eta = 0.25;
  c.clip_sample = false;
  c.clip_range = 2.0;
  c.set_alpha_to_one = false;
  c.ddim_prev_timestep = PrevTimestep::next_in_sequence;
  auto j = sampler_config_to_json(c);
  EXPECT_EQ(j.at("sampler"), "ddim");
  EXPECT_FALSE(j.contains("variance_type")) << "DDIM has no variance_type";
  SamplerConfig back = default_sampler_config(SamplerKind::ddpm);
  std::set<std::string> consumed;
  read_sampler_config(j, "sampling", back, consumed);
  EXPECT_EQ(back.kind, SamplerKind::ddim);
  EXPECT_EQ(back.steps, 17);
  EXPECT_EQ(back.timestep_spacing, TimestepSpacing::trailing);
  EXPECT_EQ(back.steps_offset, 1);
  EXPECT_EQ(back.eta, 0.25);
  EXPECT_FALSE(back.clip_sample);
  EXPECT_EQ(back.clip_range, 2.0);
  EXPECT_FALSE(back.set_alpha_to_one);
  EXPECT_EQ(back.ddim_prev_timestep, PrevTimestep::next_in_sequence);
  EXPECT_EQ(consumed.size(), size_t(j.size()));
  // A key missing from the JSON keeps the sampler's default.
  j.erase("eta");
  SamplerConfig partial;
  consumed.clear();
  read_sampler_config(j, "sampling", partial, consumed);
  EXPECT_EQ(partial.eta, 0.0);
  EXPECT_EQ(consumed.count("eta"), 0u);
  auto bad = error_of([&] {
    SamplerConfig x;
    read_sampler_config({{"eta", "high"}}, "sampling", x, consumed);
  });
  EXPECT_NE(bad.find("sampling.eta"), std::string::npos) << bad;
  EXPECT_NE(bad.find("number"), std::string::npos) << bad;
}

TEST(SamplerConfig, OverridesSwitchToTheClassDefaultsAndRefuseForeignOptions) {
  SamplerConfig model = default_sampler_config(SamplerKind::ddim);
  model.timestep_spacing = TimestepSpacing::linspace;
  model.eta = 0.5;
  auto ddpm = apply_sampler_overrides(model, {{"sampler", "ddpm"}});
  EXPECT_EQ(ddpm.kind, SamplerKind::ddpm);
  EXPECT_EQ(ddpm.steps, 0) << "DDPM's own default: the full chain";
  EXPECT_EQ(ddpm.timestep_spacing, TimestepSpacing::linspace) << "spacing carries over";
  auto back = apply_sampler_overrides(ddpm, {{"sampler", "ddim"}, {"steps", 20}});
  EXPECT_EQ(back.eta, 0.0) << "the new sampler's own default, not the old run's 0.5";
  EXPECT_EQ(back.steps, 20);
  auto foreign = error_of([&] { apply_sampler_overrides(ddpm, {{"eta", 1.0}}); });
  EXPECT_NE(foreign.find("--eta"), std::string::npos) << foreign;
  EXPECT_NE(foreign.find("ddpm"), std::string::npos) << foreign;
  EXPECT_NE(foreign.find("applies to: ddim"), std::string::npos) << foreign;
  auto unknown = error_of([&] { apply_sampler_overrides(model, {{"sampler", "plms"}}); });
  EXPECT_NE(unknown.find("allowed: ddpm, ddim, dpm-solver++"), std::string::npos) << unknown;
}

TEST(SamplerConfig, ValidationNamesTheRange) {
  auto ddim = default_sampler_config(SamplerKind::ddim);
  ddim.steps = 0;
  auto e = error_of([&] { validate_sampler_config(ddim, 1000); });
  EXPECT_NE(e.find("allowed: 1 to 1000"), std::string::npos) << e;
  ddim.steps = 1001;
  EXPECT_THROW(validate_sampler_config(ddim, 1000), std::invalid_argument);
  auto ddpm = default_sampler_config(SamplerKind::ddpm);
  EXPECT_NO_THROW(validate_sampler_config(ddpm, 1000));
  EXPECT_EQ(network_evaluations(ddpm, make_noise_schedule(ScheduleConfig{})), 1000);
  ddim.steps = 50;
  ddim.eta = 1.5;
  EXPECT_THROW(validate_sampler_config(ddim, 1000), std::invalid_argument);
}

// diffusers 0.21.4 DDIMScheduler.step: prev = t − T//N for every spacing. With linspace and 10
// steps the grid is 999, 888, …, 111, 0, so the steps go 999 → 899, 888 → 788, …; the paper's
// rule goes 999 → 888. Expected values are built from ddim_step directly with each rule.
TEST(SamplerRegistry, DdimPreviousTimestepFollowsDiffusersUnlessAsked) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto oracle = test::gaussian_oracle(schedule, torch::full({1}, 0.3), torch::full({1}, 0.5));
  auto x_T = torch::randn({2, 1, 3, 3}, at::detail::createCPUGenerator(5));
  SamplerConfig c = default_sampler_config(SamplerKind::ddim);
  c.steps = 10;
  c.timestep_spacing = TimestepSpacing::linspace;
  c.clip_sample = false;
  const auto grid = inference_timesteps(TimestepSpacing::linspace, 1000, 10);
  ASSERT_EQ(grid.front(), 999);
  auto manual = [&](bool diffusers_rule) {
    DDIMOptions o;
    o.clip_sample = false;
    auto x = x_T;
    for (size_t i = 0; i < grid.size(); ++i) {
      const int64_t t = grid[i];
      const int64_t prev = diffusers_rule ? t - 100 : (i + 1 < grid.size() ? grid[i + 1] : -1);
      auto out = oracle(x, step_labels(double(t), x.size(0), x.device()));
      x = ddim_step(schedule, o, out, x, t, prev < 0 ? -1 : prev, {}).prev_sample;
    }
    return x;
  };
  SamplerInputs in{oracle, schedule, PredictionType::epsilon, {}, {}};
  auto ours = run_sampler(c, in, x_T);
  EXPECT_TRUE(torch::allclose(ours, manual(true), 0, 1e-6));
  c.ddim_prev_timestep = PrevTimestep::next_in_sequence;
  auto paper = run_sampler(c, in, x_T);
  EXPECT_TRUE(torch::allclose(paper, manual(false), 0, 1e-6));
  EXPECT_GT((ours - paper).abs().max().item<double>(), 1e-3) << "the rules differ for linspace";
  // Leading spacing: both rules visit the same steps.
  c.timestep_spacing = TimestepSpacing::leading;
  auto a = run_sampler(c, in, x_T);
  c.ddim_prev_timestep = PrevTimestep::diffusers;
  EXPECT_TRUE(torch::equal(a, run_sampler(c, in, x_T)));
}

// An image's draws come from its own generator: sampling 4 images in one batch or in batches of
// 1 and 3 gives the same images with a stochastic sampler.
TEST(SamplerRegistry, PerImageNoiseMakesImagesIndependentOfTheBatch) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto oracle = test::gaussian_oracle(schedule, torch::zeros({1}), torch::ones({1}));
  SamplerConfig c = default_sampler_config(SamplerKind::ddpm);
  c.steps = 20;
  auto run = [&](int64_t first, int64_t count) {
    auto gens = image_generators(42, first, count);
    auto x = draw_per_image(gens, {1, 2, 2}, torch::kCPU);
    return run_sampler(c, {oracle, schedule, PredictionType::epsilon, per_image_noise(gens), {}},
                       x);
  };
  auto whole = run(0, 4);
  auto split = torch::cat({run(0, 1), run(1, 3)});
  EXPECT_TRUE(torch::equal(whole, split));
  EXPECT_FALSE(torch::equal(whole[0], whole[1]));
  auto missing = error_of([&] {
    run_sampler(c, {oracle, schedule, PredictionType::epsilon, {}, {}}, torch::zeros({1, 1, 2, 2}));
  });
  EXPECT_NE(missing.find("noise source"), std::string::npos) << missing;
}

TEST(ContinuousTime, AlphaBarAtInterpolatesSigma) {
  auto schedule = make_noise_schedule(ScheduleConfig{});
  auto ints = torch::tensor({0.0, 1.0, 500.0, 999.0});
  auto exact = alpha_bar_at(schedule, ints);
  for (int64_t i = 0; i < 4; ++i)
    EXPECT_EQ(exact[i].item<double>(), schedule.alpha_bar(int64_t(ints[i].item<double>())));
  auto mid = alpha_bar_at(schedule, torch::tensor({500.5}));
  auto s0 = schedule.sqrt_recipm1_alphas_cumprod[500].item<double>();
  auto s1 = schedule.sqrt_recipm1_alphas_cumprod[501].item<double>();
  const double sigma = 0.5 * (s0 + s1);
  EXPECT_NEAR(mid[0].item<double>(), 1.0 / (1.0 + sigma * sigma), 1e-15);
  EXPECT_THROW(alpha_bar_at(schedule, torch::tensor({999.5})), c10::Error);
  EXPECT_THROW(alpha_bar_at(schedule, torch::tensor({-0.5})), c10::Error);
}

}  // namespace
}  // namespace ddpm

// The solvers on the exact denoiser of Gaussian data (tests/samplers/gaussian_oracle.h), with no
// network: every deterministic sampler is then an affine map x_T ↦ A x_T + b per pixel, so its
// output law N(b, A²) is computed exactly from two runs and must approach the data law N(μ, s²)
// as steps grow; the stochastic ones must match μ and s² over many draws. Plus the bad inputs
// that must be refused with the allowed values named.
#include <gtest/gtest.h>

#include "samplers/gaussian_oracle.h"
#include "samplers/noise_source.h"
#include "samplers/sampler_registry.h"
#include "samplers/solver_grids.h"

namespace ddpm {
namespace {

const torch::Tensor kMean = torch::tensor({0.4, -0.3}, torch::kFloat32).view({1, 1, 1, 2});
const torch::Tensor kStd = torch::tensor({0.6, 0.9}, torch::kFloat32).view({1, 1, 1, 2});

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

/// max over pixels of |b − μ| and |A² − s²|/s² for a deterministic sampler.
std::pair<double, double> law_error(SamplerConfig c, const NoiseSchedule& schedule) {
  auto oracle = test::gaussian_oracle(schedule, kMean, kStd);
  auto x = torch::stack({torch::zeros({1, 1, 2}), torch::ones({1, 1, 2})});  // x_T = 0 and 1
  auto out =
      run_sampler(c, {oracle, schedule, PredictionType::epsilon, {}, {}}, x).to(torch::kFloat64);
  auto b = out[0], A = out[1] - out[0];
  auto mu = kMean[0].to(torch::kFloat64), var = kStd[0].to(torch::kFloat64).pow(2);
  return {(b - mu).abs().max().item<double>(), ((A * A - var).abs() / var).max().item<double>()};
}

TEST(Solvers, DeterministicOnesConvergeToTheDataLaw) {
  const auto schedule = make_noise_schedule(ScheduleConfig{});
  struct Case {
    std::string name;
    SamplerKind kind;
    std::function<void(SamplerConfig&)> tweak;
  };
  const std::vector<Case> cases{
      {"ddim", SamplerKind::ddim, {}},
      {"dpm-solver++ 2M", SamplerKind::dpm_solver_pp, {}},
      {"dpm-solver++ 1", SamplerKind::dpm_solver_pp, [](auto& c) { c.solver_order = 1; }},
      {"dpm-solver++ 3M", SamplerKind::dpm_solver_pp, [](auto& c) { c.solver_order = 3; }},
      {"dpm-solver 2M heun", SamplerKind::dpm_solver,
       [](auto& c) { c.solver_type = SolverType::heun; }},
      {"unipc bh2", SamplerKind::unipc, {}},
      {"unipc bh1 order 3", SamplerKind::unipc,
       [](auto& c) {
         c.solver_type = SolverType::bh1;
         c.solver_order = 3;
       }},
      {"euler", SamplerKind::euler, {}},
      {"euler karras", SamplerKind::euler, [](auto& c) { c.use_karras_sigmas = true; }},
      {"heun", SamplerKind::heun, {}},
      {"heun karras", SamplerKind::heun, [](auto& c) { c.use_karras_sigmas = true; }},
      {"pndm", SamplerKind::pndm, {}},
      {"pndm plms", SamplerKind::pndm, [](auto& c) { c.skip_prk_steps = true; }},
  };
  for (const auto& k : cases) {
    auto c = default_sampler_config(k.kind);
    c.clip_sample = false;
    if (k.tweak) k.tweak(c);
    c.steps = 10;
    const auto coarse = law_error(c, schedule);
    c.steps = 100;
    const auto fine = law_error(c, schedule);
    std::cout << "[ oracle   ] " << k.name << ": |mean err| " << coarse.first << " -> "
              << fine.first << ", rel var err " << coarse.second << " -> " << fine.second << "\n";
    // x_T ~ N(0, I) instead of q(x_T) leaves a mean offset of ~2e-3 at any step count.
    EXPECT_LT(fine.first, 5e-3) << k.name;
    EXPECT_LT(fine.second, 0.06) << k.name;
    EXPECT_LT(fine.second, coarse.second / 4) << k.name;
  }
}

TEST(Solvers, StochasticOnesMatchMeanAndVariance) {
  const auto schedule = make_noise_schedule(ScheduleConfig{});
  auto oracle = test::gaussian_oracle(schedule, kMean, kStd);
  const int64_t n = 20000;
  for (auto kind :
       {SamplerKind::euler_ancestral, SamplerKind::sde_dpm_solver_pp, SamplerKind::euler}) {
    auto c = default_sampler_config(kind);
    c.steps = 500;
    // γ = 0.01 on every step (a fixed large γ leaves an O(γ) bias that steps do not remove).
    if (kind == SamplerKind::euler) c.s_churn = 5.0;
    torch::Generator g = at::detail::createCPUGenerator(11);
    auto x_T = torch::randn({n, 1, 1, 2}, g);
    auto out = run_sampler(c, {oracle, schedule, PredictionType::epsilon, batch_noise(g), {}}, x_T)
                   .to(torch::kFloat64);
    auto mean = out.mean(0), var = out.var(0);
    auto mu = kMean[0].to(torch::kFloat64), s2 = kStd[0].to(torch::kFloat64).pow(2);
    const double mean_err = ((mean - mu).abs() / (s2 / n).sqrt()).max().item<double>();
    const double var_err = ((var - s2).abs() / s2).max().item<double>();
    std::cout << "[ oracle   ] " << to_string(kind) << " 500 steps, " << n << " draws: mean off by "
              << mean_err << " standard errors, variance by " << var_err * 100 << " %\n";
    EXPECT_LT(mean_err, 5.0) << to_string(kind);
    EXPECT_LT(var_err, 0.06) << to_string(kind);  // SE of the variance: √(2/n) = 1 %
  }
}

TEST(Solvers, SameSeedSameImagesWhateverTheBatch) {
  const auto schedule = make_noise_schedule(ScheduleConfig{});
  auto oracle = test::gaussian_oracle(schedule, kMean, kStd);
  for (auto kind : {SamplerKind::euler_ancestral, SamplerKind::sde_dpm_solver_pp}) {
    auto c = default_sampler_config(kind);
    c.steps = 8;
    auto draw = [&](int64_t first, int64_t count) {
      auto gens = image_generators(5, first, count);
      auto x_T = draw_per_image(gens, {1, 1, 2}, torch::kCPU);
      return run_sampler(c, {oracle, schedule, PredictionType::epsilon, per_image_noise(gens), {}},
                         x_T);
    };
    auto all = draw(0, 4), last = draw(3, 1);
    EXPECT_TRUE(torch::allclose(all[3], last[0], 1e-6, 1e-6)) << to_string(kind);
    EXPECT_FALSE(torch::allclose(all[0], all[1])) << to_string(kind);
  }
}

TEST(Solvers, EverySamplerReportsEachStepAndCountsItsCalls) {
  const auto schedule = make_noise_schedule(ScheduleConfig{});
  auto oracle = test::gaussian_oracle(schedule, kMean, kStd);
  for (const auto& [kind, name] : enum_table<SamplerKind>().entries) {
    auto c = default_sampler_config(kind);
    c.steps = kind == SamplerKind::ddpm ? 0 : 12;
    int64_t calls = 0, steps = 0;
    DenoiseFn counted = [&](const torch::Tensor& x, const torch::Tensor& t) {
      ++calls;
      EXPECT_EQ(t.scalar_type(), torch::kFloat32);
      return oracle(x, t);
    };
    torch::Generator g = at::detail::createCPUGenerator(3);
    const auto labels = sampler_timesteps(c, schedule);
    run_sampler(c,
                {counted, schedule, PredictionType::epsilon, batch_noise(g),
                 [&](const SamplerStep& s) {
                   EXPECT_EQ(s.index, steps) << name;
                   EXPECT_EQ(s.t, labels[size_t(steps)]) << name;
                   ++steps;
                 }},
                torch::randn({2, 1, 1, 2}, g));
    EXPECT_EQ(steps, int64_t(labels.size())) << name;
    EXPECT_EQ(calls, network_evaluations(c, schedule)) << name;
  }
  auto heun = default_sampler_config(SamplerKind::heun);
  heun.steps = 10;
  EXPECT_EQ(network_evaluations(heun, schedule), 19);  // 2N − 1
  auto plms = default_sampler_config(SamplerKind::pndm);
  plms.steps = 20;
  EXPECT_EQ(network_evaluations(plms, schedule), 29);  // PRK warm-up: N + 9
  plms.skip_prk_steps = true;
  EXPECT_EQ(network_evaluations(plms, schedule), 21);  // PLMS: N + 1
}

TEST(Solvers, KarrasSigmasCallTheNetworkAtFractionalSteps) {
  const auto schedule = make_noise_schedule(ScheduleConfig{});
  auto c = default_sampler_config(SamplerKind::euler);
  c.steps = 10;
  c.use_karras_sigmas = true;
  const auto g = sigma_grid(c, schedule);
  ASSERT_EQ(g.sigmas.size(), 11u);
  EXPECT_EQ(g.sigmas.back(), 0.0);
  int fractional = 0;
  for (double t : g.timesteps) fractional += t != std::floor(t);
  EXPECT_GE(fractional, 8);
  // ρ = 7 spacing: σ_i^(1/7) evenly spaced between the ends.
  const double a = std::pow(g.sigmas[0], 1 / 7.0), b = std::pow(g.sigmas[9], 1 / 7.0);
  EXPECT_NEAR(std::pow(g.sigmas[4], 1 / 7.0), a + 4 * (b - a) / 9, 1e-5);
  // Euler's init_noise_sigma for linspace spacing is σ_max itself.
  EXPECT_NEAR(sigma_init_noise(c, g), g.sigmas[0], 1e-6);
}

TEST(Solvers, BadInputNamesWhatIsAllowed) {
  const int64_t T = 1000;
  auto unipc = default_sampler_config(SamplerKind::unipc);
  unipc.solver_order = 4;
  auto e = error_of([&] { validate_sampler_config(unipc, T); });
  EXPECT_NE(e.find("allowed: 1 to 3"), std::string::npos) << e;
  unipc.solver_order = 2;
  unipc.solver_type = SolverType::midpoint;
  e = error_of([&] { validate_sampler_config(unipc, T); });
  EXPECT_NE(e.find("allowed: bh1, bh2"), std::string::npos) << e;
  auto sde = default_sampler_config(SamplerKind::sde_dpm_solver_pp);
  sde.solver_order = 3;
  e = error_of([&] { validate_sampler_config(sde, T); });
  EXPECT_NE(e.find("allowed: 1 to 2"), std::string::npos) << e;
  for (int64_t steps : {0, 1001}) {
    auto euler = default_sampler_config(SamplerKind::euler);
    euler.steps = steps;
    e = error_of([&] { validate_sampler_config(euler, T); });
    EXPECT_NE(e.find("allowed: 1 to 1000"), std::string::npos) << e;
  }
  auto heun = default_sampler_config(SamplerKind::heun);
  e = error_of([&] { apply_sampler_overrides(heun, {{"solver_order", 2}}); });
  EXPECT_NE(e.find("--solver-order is not an option of sampler heun (it applies to: "
                   "dpm-solver++, dpm-solver, sde-dpm-solver++, unipc)"),
            std::string::npos)
      << e;
  e = error_of([&] { apply_sampler_overrides(heun, {{"sampler", "lms"}}); });
  EXPECT_NE(e.find("allowed: ddpm, ddim, dpm-solver++, dpm-solver, sde-dpm-solver++, unipc, "
                   "euler, euler-ancestral, heun, pndm"),
            std::string::npos)
      << e;
  auto pndm = default_sampler_config(SamplerKind::pndm);
  pndm.steps = 3;
  e = error_of([&] { network_evaluations(pndm, make_noise_schedule(ScheduleConfig{})); });
  EXPECT_NE(e.find("steps >= 4"), std::string::npos) << e;
  auto euler = default_sampler_config(SamplerKind::euler);
  euler.timestep_spacing = TimestepSpacing::quadratic;
  e = error_of([&] { validate_sampler_config(euler, T); });
  EXPECT_NE(e.find("allowed: leading, linspace, trailing"), std::string::npos) << e;
  // A stochastic sampler without a noise source.
  const auto schedule = make_noise_schedule(ScheduleConfig{});
  auto oracle = test::gaussian_oracle(schedule, kMean, kStd);
  auto ancestral = default_sampler_config(SamplerKind::euler_ancestral);
  e = error_of([&] {
    run_sampler(ancestral, {oracle, schedule, PredictionType::epsilon, {}, {}},
                torch::zeros({1, 1, 1, 2}));
  });
  EXPECT_NE(e.find("needs a noise source"), std::string::npos) << e;
}

TEST(Solvers, SwitchingKeepsSpacingAndTakesTheNewClassDefaults) {
  auto ddim = default_sampler_config(SamplerKind::ddim);
  ddim.timestep_spacing = TimestepSpacing::trailing;
  ddim.steps_offset = 1;
  ddim.steps = 25;
  ddim.clip_sample = false;
  auto heun = switch_sampler(ddim, SamplerKind::heun);
  EXPECT_EQ(heun.timestep_spacing, TimestepSpacing::trailing);
  EXPECT_EQ(heun.steps_offset, 1);
  EXPECT_EQ(heun.steps, 25);
  auto pndm = switch_sampler(ddim, SamplerKind::pndm);
  EXPECT_FALSE(pndm.set_alpha_to_one) << "PNDMScheduler's own default";
  auto unipc =
      switch_sampler(default_sampler_config(SamplerKind::dpm_solver_pp), SamplerKind::unipc);
  EXPECT_EQ(unipc.solver_type, SolverType::bh2);
  // The JSON of a solver holds its own options only, and reads back.
  auto dpm = default_sampler_config(SamplerKind::dpm_solver_pp);
  dpm.solver_order = 3;
  dpm.use_karras_sigmas = true;
  auto j = sampler_config_to_json(dpm);
  EXPECT_EQ(j.at("lambda_min_clipped"), "-Infinity");
  EXPECT_FALSE(j.contains("eta"));
  SamplerConfig back;
  std::set<std::string> consumed;
  read_sampler_config(j, "sampling", back, consumed);
  EXPECT_EQ(back.kind, SamplerKind::dpm_solver_pp);
  EXPECT_EQ(back.solver_order, 3);
  EXPECT_TRUE(back.use_karras_sigmas);
  EXPECT_TRUE(std::isinf(back.lambda_min_clipped));
}

}  // namespace
}  // namespace ddpm

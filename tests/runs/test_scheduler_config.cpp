// diffusers scheduler_config.json ⇄ schedule, prediction type and sampling defaults.
#include "runs/scheduler_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "core/noise_schedule.h"
#include "io/python_json.h"
#include "test_util.h"

namespace ddpm {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

RunConfig applied(const json& config) {
  RunConfig run;
  apply_scheduler_config(config, run, "scheduler_config.json");
  return run;
}

std::string error_of(const json& config) {
  try {
    applied(config);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(SchedulerConfig, ReadsTheTinyUnetDDPMScheduler) {
  const auto run = applied(read_json(test::fixture("tiny-unet/scheduler/scheduler_config.json")));
  EXPECT_EQ(run.schedule.num_train_timesteps, 1000);
  EXPECT_EQ(run.schedule.beta_schedule, BetaSchedule::linear);
  EXPECT_EQ(run.schedule.beta_start, 1e-4);
  EXPECT_EQ(run.schedule.beta_end, 0.02);
  EXPECT_FALSE(run.schedule.trained_betas);
  EXPECT_EQ(run.prediction_type, PredictionType::epsilon);
  EXPECT_EQ(run.sampling.sampler.kind, SamplerKind::ddpm);
  EXPECT_EQ(run.sampling.sampler.steps, 0) << "DDPMPipeline runs the full chain";
  EXPECT_TRUE(run.sampling.sampler.clip_sample);
  EXPECT_EQ(run.sampling.sampler.clip_range, 1.0);
  EXPECT_EQ(run.sampling.sampler.variance_type, VarianceType::fixed_small);
  EXPECT_EQ(run.sampling.sampler.timestep_spacing, TimestepSpacing::leading);
  EXPECT_EQ(run.sampling.sampler.steps_offset, 0);
  // The schedule diffusers computed for the same config (schedules.safetensors, float32).
  const auto ref = test::load_fixture("schedules.safetensors");
  EXPECT_TRUE(test::tensors_close(make_noise_schedule(run.schedule).alphas_cumprod,
                                  ref.at("alphas_cumprod.linear"), 1e-6));
}

TEST(SchedulerConfig, ReadsDDIMSchedulersWithEveryKey) {
  const auto run =
      applied(read_json(test::repo_fixture("diffusers/scale-shift-1ch/scheduler_config.json")));
  EXPECT_EQ(run.schedule.beta_schedule, BetaSchedule::squaredcos_cap_v2);
  EXPECT_EQ(run.prediction_type, PredictionType::v_prediction);
  EXPECT_EQ(run.sampling.sampler.kind, SamplerKind::ddim);
  EXPECT_EQ(run.sampling.sampler.steps, 50) << "DDIMPipeline's default";
  EXPECT_EQ(run.sampling.sampler.eta, 0.0);
  EXPECT_EQ(run.sampling.sampler.timestep_spacing, TimestepSpacing::trailing);
  EXPECT_EQ(run.sampling.sampler.steps_offset, 1);
  EXPECT_FALSE(run.sampling.sampler.set_alpha_to_one);
  EXPECT_FALSE(run.sampling.sampler.clip_sample);
}

TEST(SchedulerConfig, ReadsTrainedBetas) {
  const auto config =
      read_json(test::repo_fixture("diffusers/sparse-swish-f16/scheduler_config.json"));
  const auto run = applied(config);
  ASSERT_TRUE(run.schedule.trained_betas);
  EXPECT_EQ(run.schedule.num_train_timesteps, 100);
  EXPECT_EQ(*run.schedule.trained_betas, config["trained_betas"].get<std::vector<double>>());
  EXPECT_EQ(run.prediction_type, PredictionType::sample);
  EXPECT_EQ(run.sampling.sampler.variance_type, VarianceType::fixed_large);
  EXPECT_EQ(run.sampling.sampler.timestep_spacing, TimestepSpacing::linspace);
  EXPECT_EQ(make_betas(run.schedule)[99].item<double>(), config["trained_betas"][99].get<double>());
}

TEST(SchedulerConfig, AbsentKeysTakeTheSchedulersDefaults) {
  const auto ddpm = applied({{"_class_name", "DDPMScheduler"}});
  const auto ddim = applied({{"_class_name", "DDIMScheduler"}});
  for (const auto* run : {&ddpm, &ddim}) {
    EXPECT_EQ(run->schedule.num_train_timesteps, 1000);
    EXPECT_EQ(run->schedule.beta_schedule, BetaSchedule::linear);
    EXPECT_EQ(run->prediction_type, PredictionType::epsilon);
    EXPECT_TRUE(run->sampling.sampler.clip_sample);
    EXPECT_TRUE(run->sampling.sampler.set_alpha_to_one);
    EXPECT_EQ(run->sampling.sampler.timestep_spacing, TimestepSpacing::leading);
  }
  EXPECT_EQ(ddpm.sampling.sampler.kind, SamplerKind::ddpm);
  EXPECT_EQ(ddim.sampling.sampler.kind, SamplerKind::ddim);
  // The _log variances compute the same σ (DDPMScheduler._get_variance).
  EXPECT_EQ(applied({{"_class_name", "DDPMScheduler"}, {"variance_type", "fixed_large_log"}})
                .sampling.sampler.variance_type,
            VarianceType::fixed_large);
  EXPECT_EQ(applied({{"_class_name", "DDPMScheduler"}, {"variance_type", "fixed_small_log"}})
                .sampling.sampler.variance_type,
            VarianceType::fixed_small);
}

// diffusers' linear β is linspace(beta_start, beta_end, T) for any T; this project's linear is
// rescaled by 1000/T, so the reader stores beta_start/end · T/1000 to get the same β.
TEST(SchedulerConfig, LinearBetasMatchDiffusersForAnyT) {
  const auto run = applied({{"_class_name", "DDPMScheduler"},
                            {"num_train_timesteps", 250},
                            {"beta_start", 0.001},
                            {"beta_end", 0.05}});
  const auto expected = torch::linspace(0.001, 0.05, 250, torch::kFloat64);
  EXPECT_TRUE(test::tensors_close(make_betas(run.schedule), expected, 1e-15));
  const json back = scheduler_config_to_diffusers(run);
  EXPECT_NEAR(back["beta_start"].get<double>(), 0.001, 1e-18);
  EXPECT_NEAR(back["beta_end"].get<double>(), 0.05, 1e-17);
}

TEST(SchedulerConfig, UnsupportedValuesNameTheKeyAndTheAllowedValues) {
  struct Case {
    json config;
    std::vector<std::string> expected;
  };
  const json ddpm = {{"_class_name", "DDPMScheduler"}};
  auto with = [&](const char* key, json value) {
    json j = ddpm;
    j[key] = value;
    return j;
  };
  const std::vector<Case> cases{
      {{{"_class_name", "LMSDiscreteScheduler"}},
       {"LMSDiscreteScheduler",
        "DDPMScheduler, DDIMScheduler, DPMSolverMultistepScheduler, "
        "UniPCMultistepScheduler, EulerDiscreteScheduler, "
        "EulerAncestralDiscreteScheduler, HeunDiscreteScheduler, "
        "PNDMScheduler"}},
      {{{"_class_name", "DPMSolverMultistepScheduler"}, {"algorithm_type", "sde-dpmsolver"}},
       {"algorithm_type", "dpmsolver++, dpmsolver, sde-dpmsolver++"}},
      {{{"_class_name", "UniPCMultistepScheduler"}, {"solver_order", 4}},
       {"solver_order = 4", "allowed: 1 to 3"}},
      {{{"_class_name", "UniPCMultistepScheduler"}, {"solver_p", "DDIMScheduler"}},
       {"solver_p", "allowed: null"}},
      {{{"_class_name", "EulerDiscreteScheduler"}, {"interpolation_type", "cubic"}},
       {"interpolation_type", "linear, log_linear"}},
      {json::object(), {"_class_name is absent"}},
      {with("beta_schedule", "sigmoid"), {"beta_schedule", "sigmoid", "squaredcos_cap_v2"}},
      {with("thresholding", true), {"thresholding", "false"}},
      {{{"_class_name", "DDIMScheduler"}, {"rescale_betas_zero_snr", true}},
       {"rescale_betas_zero_snr"}},
      {with("variance_type", "learned"), {"variance_type", "learned", "learned_range"}},
      {with("prediction_type", "score"), {"prediction_type", "v_prediction"}},
      {with("timestep_spacing", "quadratic"), {"timestep_spacing", "leading, linspace, trailing"}},
      {with("trained_betas", {0.1, 0.2}), {"trained_betas has 2 values", "1000"}},
      {with("clip_sample", "yes"), {"clip_sample", "true or false"}},
  };
  for (const auto& c : cases) {
    const std::string message = error_of(c.config);
    EXPECT_THAT(message, HasSubstr("scheduler_config.json")) << c.config.dump();
    for (const auto& e : c.expected) EXPECT_THAT(message, HasSubstr(e)) << c.config.dump();
  }
}

TEST(SchedulerConfig, ExportReadsBackTheSameSchedulePredictionAndSampling) {
  std::vector<RunConfig> runs(4);
  runs[1].sampling.sampler = switch_sampler(runs[1].sampling.sampler, SamplerKind::ddpm);
  runs[1].sampling.sampler.variance_type = VarianceType::fixed_large;
  runs[1].sampling.sampler.clip_sample = false;
  runs[1].prediction_type = PredictionType::v_prediction;
  runs[1].schedule.beta_schedule = BetaSchedule::squaredcos_cap_v2;
  runs[2].schedule.beta_schedule = BetaSchedule::scaled_linear;
  runs[2].schedule.beta_start = 0.00085;
  runs[2].schedule.beta_end = 0.012;
  runs[2].sampling.sampler.timestep_spacing = TimestepSpacing::trailing;
  runs[2].sampling.sampler.steps_offset = 1;
  runs[2].sampling.sampler.set_alpha_to_one = false;
  runs[2].sampling.sampler.clip_range = 2.5;
  runs[3].schedule.num_train_timesteps = 4;
  runs[3].schedule.trained_betas = std::vector<double>{0.1, 0.2, 0.3, 0.4};
  for (const auto& run : runs) {
    const json j = scheduler_config_to_diffusers(run);
    const RunConfig back = applied(j);
    EXPECT_EQ(to_json(back)["schedule"], to_json(run)["schedule"]) << j.dump();
    EXPECT_EQ(back.prediction_type, run.prediction_type);
    EXPECT_EQ(back.sampling.sampler.kind, run.sampling.sampler.kind);
    EXPECT_EQ(back.sampling.sampler.clip_sample, run.sampling.sampler.clip_sample);
    EXPECT_EQ(back.sampling.sampler.clip_range, run.sampling.sampler.clip_range);
    EXPECT_EQ(back.sampling.sampler.timestep_spacing, run.sampling.sampler.timestep_spacing);
    EXPECT_EQ(back.sampling.sampler.steps_offset, run.sampling.sampler.steps_offset);
    if (run.sampling.sampler.kind == SamplerKind::ddim)
      EXPECT_EQ(back.sampling.sampler.set_alpha_to_one, run.sampling.sampler.set_alpha_to_one);
    else
      EXPECT_EQ(back.sampling.sampler.variance_type, run.sampling.sampler.variance_type);
  }
  // DDPMScheduler writes 0.21.4's keys exactly (the fixture's file).
  const auto reference = read_json(test::fixture("tiny-unet/scheduler/scheduler_config.json"));
  RunConfig ddpm;
  ddpm.sampling.sampler = switch_sampler(ddpm.sampling.sampler, SamplerKind::ddpm);
  EXPECT_EQ(scheduler_config_to_diffusers(ddpm), reference);
}

TEST(SchedulerConfig, KerasCosineExportsItsBetasAndQuadraticSpacingIsRefused) {
  RunConfig keras;
  keras.schedule.beta_schedule = BetaSchedule::keras_cosine;
  const json j = scheduler_config_to_diffusers(keras);
  ASSERT_TRUE(j["trained_betas"].is_array());
  const auto back = applied(j);
  EXPECT_TRUE(torch::equal(make_betas(back.schedule), make_betas(keras.schedule)));
  RunConfig quadratic;
  quadratic.sampling.sampler.timestep_spacing = TimestepSpacing::quadratic;
  try {
    scheduler_config_to_diffusers(quadratic);
    ADD_FAILURE() << "quadratic spacing exported";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("quadratic"));
  }
}

TEST(SchedulerConfig, EveryClassPicksItsSamplerWithItsOwnDefaults) {
  const std::vector<std::pair<json, SamplerKind>> cases{
      {{{"_class_name", "DPMSolverMultistepScheduler"}}, SamplerKind::dpm_solver_pp},
      {{{"_class_name", "DPMSolverMultistepScheduler"}, {"algorithm_type", "dpmsolver"}},
       SamplerKind::dpm_solver},
      {{{"_class_name", "DPMSolverMultistepScheduler"}, {"algorithm_type", "sde-dpmsolver++"}},
       SamplerKind::sde_dpm_solver_pp},
      {{{"_class_name", "DPMSolverMultistepScheduler"}, {"algorithm_type", "deis"}},
       SamplerKind::dpm_solver_pp},
      {{{"_class_name", "UniPCMultistepScheduler"}}, SamplerKind::unipc},
      {{{"_class_name", "EulerDiscreteScheduler"}}, SamplerKind::euler},
      {{{"_class_name", "EulerAncestralDiscreteScheduler"}}, SamplerKind::euler_ancestral},
      {{{"_class_name", "HeunDiscreteScheduler"}}, SamplerKind::heun},
      {{{"_class_name", "PNDMScheduler"}}, SamplerKind::pndm},
  };
  for (const auto& [config, kind] : cases) {
    const auto run = applied(config);
    EXPECT_EQ(run.sampling.sampler.kind, kind) << config.dump();
    EXPECT_EQ(run.sampling.sampler.timestep_spacing,
              kind == SamplerKind::pndm ? TimestepSpacing::leading : TimestepSpacing::linspace)
        << config.dump();
  }
  // HeunDiscreteScheduler's own defaults: β from 0.00085 to 0.012, no clipping.
  const auto heun = applied({{"_class_name", "HeunDiscreteScheduler"}});
  EXPECT_EQ(heun.schedule.beta_start, 0.00085);
  EXPECT_EQ(heun.schedule.beta_end, 0.012);
  EXPECT_FALSE(heun.sampling.sampler.clip_sample);
  const auto pndm = applied({{"_class_name", "PNDMScheduler"}});
  EXPECT_FALSE(pndm.sampling.sampler.set_alpha_to_one);
  EXPECT_FALSE(pndm.sampling.sampler.skip_prk_steps);
  // diffusers maps the other family's solver_type names.
  EXPECT_EQ(applied({{"_class_name", "DPMSolverMultistepScheduler"}, {"solver_type", "logrho"}})
                .sampling.sampler.solver_type,
            SolverType::midpoint);
  EXPECT_EQ(applied({{"_class_name", "UniPCMultistepScheduler"}, {"solver_type", "heun"}})
                .sampling.sampler.solver_type,
            SolverType::bh2);
}

TEST(SchedulerConfig, RealDpmSolverConfigsWithInfinityAndForeignKeysLoad) {
  // As Python's json writes a real DPMSolverMultistepScheduler config.
  const std::string text = R"({
    "_class_name": "DPMSolverMultistepScheduler", "_diffusers_version": "0.21.4",
    "algorithm_type": "dpmsolver++", "lambda_min_clipped": -Infinity, "solver_order": 3,
    "use_karras_sigmas": true, "clip_sample": false, "set_alpha_to_one": false,
    "note": "a string holding -Infinity stays a string"})";
  RunConfig run;
  const auto warnings =
      apply_scheduler_config(parse_python_json(text), run, "scheduler_config.json");
  EXPECT_TRUE(std::isinf(run.sampling.sampler.lambda_min_clipped));
  EXPECT_LT(run.sampling.sampler.lambda_min_clipped, 0);
  EXPECT_EQ(run.sampling.sampler.solver_order, 3);
  EXPECT_TRUE(run.sampling.sampler.use_karras_sigmas);
  ASSERT_EQ(warnings.size(), 3u);  // clip_sample, note, set_alpha_to_one: not DPMSolver keys
  EXPECT_THAT(warnings[0], HasSubstr("clip_sample"));
  EXPECT_THAT(warnings[0], HasSubstr("ignored"));
  // And it is written back with a bare -Infinity, as diffusers' own file holds it.
  const std::string out = dump_python_json(scheduler_config_to_diffusers(run));
  EXPECT_THAT(out, HasSubstr("\"lambda_min_clipped\": -Infinity"));
  EXPECT_EQ(parse_python_json(out)["lambda_min_clipped"], "-Infinity");
}

TEST(SchedulerConfig, EverySamplersExportReadsBackTheSameSampler) {
  for (const auto& [kind, name] : enum_table<SamplerKind>().entries) {
    RunConfig run;
    run.sampling.sampler = switch_sampler(run.sampling.sampler, kind);
    auto& s = run.sampling.sampler;
    s.timestep_spacing = TimestepSpacing::trailing;
    if (kind == SamplerKind::unipc || kind == SamplerKind::dpm_solver_pp) {
      s.solver_order = 3;
      s.use_karras_sigmas = true;
    }
    if (kind == SamplerKind::euler) s.interpolation_type = SigmaInterpolation::log_linear;
    if (kind == SamplerKind::pndm) s.skip_prk_steps = true;
    if (kind == SamplerKind::heun) s.clip_sample = true;
    const json j = scheduler_config_to_diffusers(run);
    const RunConfig back = applied(parse_python_json(dump_python_json(j)));
    json a = sampler_config_to_json(back.sampling.sampler), b = sampler_config_to_json(s);
    a.erase("steps");  // a class's pipeline default, not a scheduler key
    b.erase("steps");
    // Euler's churn is a step() argument in diffusers, not a config key.
    for (const char* key : {"s_churn", "s_tmin", "s_tmax", "s_noise"}) {
      a.erase(key);
      b.erase(key);
    }
    EXPECT_EQ(a, b) << name << ": " << j.dump();
  }
}

}  // namespace
}  // namespace ddpm

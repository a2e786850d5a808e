// Every sampler against diffusers 0.21.4.
//
// 1. The tiny UNet2DModel fixture driven by diffusers' own DPMSolverMultistep (2M), Euler, Heun,
//    UniPC and PNDM (PLMS) schedulers (tests/fixtures/diffusers-0.21.4/samplers/tiny-unet/<run>):
//    the run's scheduler_config.json read by apply_scheduler_config picks the sampler, our chain
//    starts from the same unit-variance x_T and must reach diffusers' x_0 within
//    max(1e-3, 5 × the reference's own float32-vs-float64 divergence) of max(1, max|x_0|).
// 2. Configurations those runs do not cover (third order, Karras σ, every spacing, v/sample
//    prediction, thresholding, λ clipping, corrector switches, churn, ancestral and SDE noise,
//    PNDM's Runge–Kutta warm-up), each computed by diffusers 0.21.4's scheduler source on the
//    exact Gaussian denoiser (tests/fixtures/make_sampler_fixtures.py says how), replaying the
//    same noise draws: they must match to float32 rounding (1e-4).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "io/python_json.h"
#include "models/denoiser.h"
#include "models/state_dict.h"
#include "models/unet.h"
#include "runs/diffusers_format.h"
#include "runs/scheduler_config.h"
#include "samplers/gaussian_oracle.h"
#include "samplers/sampler_registry.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class TinyUNetRun : public ::testing::TestWithParam<std::string> {};

TEST_P(TinyUNetRun, MatchesDiffusers) {
  const fs::path dir = test::fixture("samplers/tiny-unet/" + GetParam());
  RunConfig run;
  const auto warnings = apply_scheduler_config(
      parse_python_json(read_text(dir / "scheduler_config.json")), run, "scheduler_config.json");
  EXPECT_TRUE(warnings.empty());
  SamplerConfig sampler = run.sampling.sampler;
  sampler.steps = std::stoll(read_text(dir / "steps"));
  const double floor = std::stod(read_text(dir / "run.safetensors.floor"));
  const double tol = std::max(1e-3, 5 * floor);

  UNet model(unet_config_from_diffusers(
      nlohmann::json::parse(read_text(test::fixture("tiny-unet/config.json"))), "tiny-unet"));
  load_state_dict(*model, test::load_fixture("tiny-unet/diffusion_pytorch_model.safetensors"),
                  "tiny-unet");
  model->eval();
  torch::NoGradGuard no_grad;
  const auto schedule = make_noise_schedule(run.schedule);
  const auto ref = read_safetensors(dir / "run.safetensors").tensors;

  // The grid: diffusers' timesteps, Heun's with each inner step repeated for its second call.
  const auto ours = sampler_timesteps(sampler, schedule);
  std::vector<double> theirs;
  auto ref_t = ref.at("timesteps").to(torch::kFloat64);
  for (int64_t i = 0; i < ref_t.numel(); ++i) {
    const double t = ref_t[i].item<double>();
    if (sampler.kind == SamplerKind::heun && !theirs.empty() && theirs.back() == t) continue;
    theirs.push_back(t);
  }
  if (sampler.kind == SamplerKind::pndm) {
    ASSERT_EQ(network_evaluations(sampler, schedule), ref_t.numel());
  } else {
    ASSERT_EQ(ours.size(), theirs.size());
    for (size_t i = 0; i < ours.size(); ++i) EXPECT_NEAR(ours[i], theirs[i], 1e-3) << i;
  }
  EXPECT_EQ(network_evaluations(sampler, schedule), ref_t.numel());

  int64_t calls = 0;
  auto denoise = make_denoise_fn(model, schedule);
  auto counted = [&](const torch::Tensor& x, const torch::Tensor& t) {
    ++calls;
    return denoise(x, t);
  };
  auto x0 = run_sampler(sampler, {counted, schedule, run.prediction_type, {}, {}}, ref.at("x_T"));
  EXPECT_EQ(calls, ref_t.numel());
  auto check = test::tensors_close(x0, ref.at("x_0"), tol);
  std::cout << "[ parity   ] tiny-unet " << GetParam() << " (" << describe_sampler(sampler)
            << "): " << check.message() << " (bound " << tol << ")\n";
  EXPECT_TRUE(check);
}

INSTANTIATE_TEST_SUITE_P(Diffusers, TinyUNetRun,
                         ::testing::Values("dpmpp2m-10", "euler-20", "heun-10", "pndm-plms-20",
                                           "unipc-10"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

class OracleRun : public ::testing::TestWithParam<std::string> {};

TEST_P(OracleRun, MatchesDiffusersSchedulerSource) {
  const auto file = read_safetensors(test::repo_fixture("samplers/" + GetParam() + ".safetensors"));
  const auto& ref = file.tensors;
  RunConfig run;
  apply_scheduler_config(parse_python_json(file.metadata.at("scheduler_config")), run, GetParam());
  SamplerConfig sampler = run.sampling.sampler;
  sampler.steps = std::stoll(file.metadata.at("steps"));
  const auto step_kwargs = nlohmann::json::parse(file.metadata.at("step_kwargs"));
  for (const auto& [key, value] : step_kwargs.items()) sampler_option(key).set(sampler, value);
  const auto schedule = make_noise_schedule(run.schedule);

  auto eps = test::gaussian_oracle(schedule, ref.at("mu"), ref.at("s"));
  const auto prediction = run.prediction_type;
  DenoiseFn model = [&](const torch::Tensor& x, const torch::Tensor& t) {
    auto e = eps(x, t);
    if (prediction == PredictionType::epsilon) return e;
    auto a = alpha_bar_at(schedule, t).view({-1, 1, 1, 1}).to(torch::kFloat32);
    auto x0 = (x - (1 - a).sqrt() * e) / a.sqrt();
    return prediction == PredictionType::sample ? x0 : a.sqrt() * e - (1 - a).sqrt() * x0;
  };
  // Replays diffusers' draws in order.
  int64_t draws = 0;
  NoiseFn noise;
  if (ref.count("noise"))
    noise = [&](const torch::Tensor& like) { return ref.at("noise")[draws++].to(like.dtype()); };

  auto ref_t = ref.at("timesteps").to(torch::kFloat64);
  if (sampler.kind != SamplerKind::heun && sampler.kind != SamplerKind::pndm) {
    const auto ours = sampler_timesteps(sampler, schedule);
    ASSERT_EQ(int64_t(ours.size()), ref_t.numel());
    // Karras grids invert σ → t through diffusers' float32 σ table (ours is float64): the
    // fractional labels agree to ~1e-5 relative.
    for (size_t i = 0; i < ours.size(); ++i)
      EXPECT_NEAR(ours[i], ref_t[int64_t(i)].item<double>(), 1e-2) << i;
  }
  EXPECT_EQ(network_evaluations(sampler, schedule), ref_t.numel());
  auto x0 = run_sampler(sampler, {model, schedule, prediction, noise, {}},
                        ref.at("x_T").to(torch::kFloat32));
  if (ref.count("noise")) EXPECT_EQ(draws, ref.at("noise").size(0));
  auto check = test::tensors_close(x0, ref.at("x_0"), 1e-4);
  std::cout << "[ parity   ] " << GetParam() << " (" << describe_sampler(sampler)
            << "): " << check.message() << "\n";
  EXPECT_TRUE(check);
}

INSTANTIATE_TEST_SUITE_P(
    Diffusers, OracleRun,
    ::testing::Values("dpmpp3m-linspace-10", "dpmpp2m-heun-karras-trailing-12",
                      "dpm2m-leading-offset-v-20", "dpm3m-sample-threshold-8",
                      "dpmpp2m-cosine-lambda-clip-10", "sde-dpmpp2m-10", "unipc-bh1-order3-10",
                      "unipc-eps-nocorr-trailing-8", "unipc-karras-v-12", "euler-karras-v-10",
                      "euler-churn-leading-10", "euler-loglinear-10", "euler-ancestral-trailing-10",
                      "heun-karras-sample-clip-8", "heun-default-betas-leading-6",
                      "pndm-prk-leading-offset-10", "pndm-plms-linspace-v-15"),
    [](const auto& info) {
      std::string name = info.param;
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

}  // namespace
}  // namespace ddpm

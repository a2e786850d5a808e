// improved-diffusion folders against that repository's own outputs (tests/fixtures/original/
// tiny-improved-diffusion, learn_sigma with the cosine schedule): UNetModel's forward (6
// channels) to 1e-4, p_mean_variance's learned-range mean, log-variance and x̂_0 on the 1000-step
// process to 1e-4, and ddim_sample_loop with timestep_respacing "ddim10" to max(1e-3, 5 × the
// reference's float32-vs-float64 divergence) of max(1, |x_0|). Then the bad inputs.
#include "runs/improved_diffusion_format.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/forward_process.h"
#include "core/prediction.h"
#include "core/vlb.h"
#include "models/denoiser.h"
#include "runs/model_loading.h"
#include "samplers/sampler_registry.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

fs::path dir() {
  return test::repo_fixture("original/tiny-improved-diffusion");
}

TEST(ImprovedDiffusionFormat, ForwardMatchesUNetModel) {
  auto loaded = load_model(dir(), WeightsKind::ema, torch::kCPU);
  EXPECT_EQ(loaded.layout, ModelLayout::improved_diffusion);
  EXPECT_EQ(loaded.config.model.out_channels, 6);
  EXPECT_EQ(loaded.config.sampling.sampler.variance_type, VarianceType::learned_range);
  const auto ref = read_safetensors(dir() / "forward.safetensors").tensors;
  auto out = make_denoise_fn(loaded.model, loaded.schedule)(ref.at("x"), ref.at("t"));
  auto check = test::tensors_close(out, ref.at("out"), 1e-4);
  std::cout << "[ original ] improved-diffusion forward: " << check.message() << "\n";
  EXPECT_TRUE(check);
}

TEST(ImprovedDiffusionFormat, LearnedRangeMeanAndVarianceMatchPMeanVariance) {
  auto loaded = load_model(dir(), WeightsKind::ema, torch::kCPU);
  const auto ref = read_safetensors(dir() / "p-mean-variance.safetensors").tensors;
  const auto& x_t = ref.at("x_t");
  const auto t = ref.at("t").to(torch::kInt64);
  auto out = make_denoise_fn(loaded.model, loaded.schedule)(x_t, t);
  auto alpha_bar = loaded.schedule.alphas_cumprod.index_select(0, t).view({-1, 1, 1, 1});
  auto x0 = split_prediction(PredictionType::epsilon, out.narrow(1, 0, 3), x_t, alpha_bar)
                .x0.clamp(-1, 1);  // clip_denoised
  auto mean = q_posterior(loaded.schedule, x0, x_t, t).mean;
  auto log_variance = learned_range_log_variance(loaded.schedule, out.narrow(1, 3, 3), t);
  for (const auto& [name, ours] : {std::pair<std::string, torch::Tensor>{"pred_xstart", x0},
                                   {"mean", mean},
                                   {"log_variance", log_variance}}) {
    auto check = test::tensors_close(ours, ref.at(name), 1e-4);
    std::cout << "[ original ] improved-diffusion " << name << ": " << check.message() << "\n";
    EXPECT_TRUE(check) << name;
  }
}

TEST(ImprovedDiffusionFormat, Ddim10ReproducesTheRespacedDdimSampleLoop) {
  auto loaded = load_model(dir(), WeightsKind::ema, torch::kCPU);
  const auto ref = read_safetensors(dir() / "ddim10.safetensors").tensors;
  SamplerConfig s = apply_sampler_overrides(loaded.config.sampling.sampler,
                                            {{"sampler", "ddim"}, {"steps", 10}, {"eta", 0.0}});
  const auto grid = sampler_timesteps(s, loaded.schedule);
  ASSERT_EQ(int64_t(grid.size()), ref.at("timesteps").numel());
  torch::NoGradGuard no_grad;
  auto x0 = run_sampler(s,
                        {make_denoise_fn(loaded.model, loaded.schedule),
                         loaded.schedule,
                         loaded.config.prediction_type,
                         {},
                         {}},
                        ref.at("x_T"));
  std::ifstream in(dir() / "ddim10.safetensors.floor");
  double floor = 0;
  in >> floor;
  const double tol = std::max(1e-3, 5 * floor);
  auto check = test::tensors_close(x0, ref.at("x_0"), tol);
  std::cout << "[ original ] improved-diffusion DDIM-10: " << check.message() << " (bound " << tol
            << ")\n";
  EXPECT_TRUE(check);
}

std::string config_error(const nlohmann::json& args) {
  try {
    improved_diffusion_config(args, "args.json");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(ImprovedDiffusionFormat, BadArgsAreNamed) {
  const nlohmann::json base{{"image_size", 32},
                            {"num_channels", 32},
                            {"num_res_blocks", 1},
                            {"num_heads", 2},
                            {"attention_resolutions", "8"}};
  auto with = [&](const std::string& k, const nlohmann::json& v) {
    auto j = base;
    j[k] = v;
    return j;
  };
  EXPECT_EQ(config_error(base), "");
  EXPECT_NE(config_error(with("class_cond", true)).find("not supported yet"), std::string::npos);
  EXPECT_NE(config_error(with("num_chanels", 32)).find("unknown key 'num_chanels'"),
            std::string::npos);
  EXPECT_NE(config_error(with("image_size", 48)).find("image_size = 48"), std::string::npos);
  EXPECT_NE(config_error(with("noise_schedule", "sqrt")).find("linear, cosine"), std::string::npos);
  EXPECT_NE(config_error(with("attention_resolutions", "32,8")).find("head widths"),
            std::string::npos);  // 2 heads over widths 32 and 64
  EXPECT_NE(config_error(with("learn_sigma", "maybe")).find("learn_sigma"), std::string::npos);
  // A state dict of another architecture: named keys.
  test::TempDir tmp;
  fs::copy_file(dir() / "model.pt", tmp.path / "model.pt");
  std::ofstream(tmp.path / "args.json") << with("num_res_blocks", 2).dump();
  try {
    load_model(tmp.path, WeightsKind::ema, torch::kCPU);
    FAIL() << "loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing input_blocks"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ddpm

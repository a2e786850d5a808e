// ermongroup/ddim folders against that repository's own outputs (tests/fixtures/original/
// tiny-ddim-official: its Model's forward pass and generalized_steps over range(0, T, T // 10),
// run by its code): forward to 1e-4, the 10-step run to max(1e-3, 5 × the reference's own
// float32-vs-float64 divergence) of max(1, |x_0|). Then the bad inputs.
#include "runs/ddim_official_format.h"

#include <gtest/gtest.h>

#include <fstream>

#include "io/yaml.h"
#include "models/denoiser.h"
#include "runs/model_loading.h"
#include "samplers/sampler_registry.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

fs::path dir() {
  return test::repo_fixture("original/tiny-ddim-official");
}

double floor_of(const fs::path& p) {
  std::ifstream in(p);
  double v = 0;
  in >> v;
  return v;
}

TEST(DdimOfficialFormat, ForwardMatchesTheRepositorysModelWithItsEmaWeights) {
  auto loaded = load_model(dir(), WeightsKind::ema, torch::kCPU);
  EXPECT_EQ(loaded.layout, ModelLayout::ddim_official);
  EXPECT_EQ(loaded.config.model.downsample_padding, 0);
  const auto ref = read_safetensors(dir() / "forward.safetensors").tensors;
  auto denoise = make_denoise_fn(loaded.model, loaded.schedule);
  auto eps = denoise(ref.at("x"), ref.at("t"));
  auto check = test::tensors_close(eps, ref.at("eps"), 1e-4);
  std::cout << "[ original ] ddim-official forward: " << check.message() << "\n";
  EXPECT_TRUE(check);
  // The training list's model (entry 0) differs: the EMA shadow is what was used.
  auto raw = load_model(dir(), WeightsKind::raw, torch::kCPU);
  auto raw_eps = make_denoise_fn(raw.model, raw.schedule)(ref.at("x"), ref.at("t"));
  EXPECT_FALSE(test::tensors_close(raw_eps, ref.at("eps"), 1e-2));
}

TEST(DdimOfficialFormat, TenStepDdimReproducesGeneralizedSteps) {
  auto loaded = load_model(dir(), WeightsKind::ema, torch::kCPU);
  const auto ref = read_safetensors(dir() / "ddim-10-uniform.safetensors").tensors;
  SamplerConfig s = apply_sampler_overrides(loaded.config.sampling.sampler,
                                            {{"sampler", "ddim"}, {"steps", 10}, {"eta", 0.0}});
  const auto grid = sampler_timesteps(s, loaded.schedule);
  auto ref_t = ref.at("timesteps").to(torch::kInt64);
  ASSERT_EQ(int64_t(grid.size()), ref_t.numel());
  for (size_t i = 0; i < grid.size(); ++i)  // the fixture lists seq ascending or as visited
    EXPECT_TRUE(grid[i] == ref_t[int64_t(i)].item<int64_t>() ||
                grid[i] == ref_t[ref_t.numel() - 1 - int64_t(i)].item<int64_t>());
  torch::NoGradGuard no_grad;
  auto x0 = run_sampler(s,
                        {make_denoise_fn(loaded.model, loaded.schedule),
                         loaded.schedule,
                         loaded.config.prediction_type,
                         {},
                         {}},
                        ref.at("x_T"));
  const double tol = std::max(1e-3, 5 * floor_of(dir() / "ddim-10-uniform.safetensors.floor"));
  auto check = test::tensors_close(x0, ref.at("x_0"), tol);
  std::cout << "[ original ] ddim-official DDIM-10: " << check.message() << " (bound " << tol
            << ")\n";
  EXPECT_TRUE(check);
}

std::string config_error(const std::function<void(nlohmann::json&)>& edit) {
  auto yml = read_yaml_file(dir() / "config.yml");
  edit(yml);
  try {
    ddim_official_config(yml, "config.yml");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(DdimOfficialFormat, BadConfigsAreNamed) {
  struct Case {
    std::function<void(nlohmann::json&)> edit;
    std::vector<std::string> expect;
  };
  const std::vector<Case> cases{
      {[](auto& j) { j.erase("model"); }, {"no 'model' section"}},
      {[](auto& j) { j["model"].erase("ch"); }, {"model.ch is missing"}},
      {[](auto& j) { j["model"]["in_channels"] = 1; }, {"model.in_channels = 1", "data.channels"}},
      {[](auto& j) { j["model"]["attn_resolutions"] = {5}; }, {"attn_resolutions", "5", "16, 8"}},
      {[](auto& j) { j["model"]["ch_mult"] = "12"; }, {"model.ch_mult", "list of integers"}},
      {[](auto& j) { j["diffusion"]["beta_schedule"] = "cosine"; }, {"cosine", "quad"}},
      {[](auto& j) { j["model"]["var_type"] = "learned"; }, {"var_type", "fixedlarge"}},
  };
  for (const auto& c : cases) {
    const auto message = config_error(c.edit);
    for (const auto& e : c.expect) EXPECT_NE(message.find(e), std::string::npos) << message;
  }
}

TEST(DdimOfficialFormat, WeightsOfAnotherArchitectureAreNamed) {
  test::TempDir tmp;
  fs::copy_file(dir() / "ckpt.pth", tmp.path / "ckpt.pth");
  std::ofstream(tmp.path / "config.yml")
      << "data: {image_size: 16, channels: 3}\nmodel: {ch: 32, out_ch: 3, ch_mult: [1, 2], "
         "num_res_blocks: 1, attn_resolutions: [16], in_channels: 3, ema: true}\n"
         "diffusion: {beta_schedule: linear, beta_start: 0.0001, beta_end: 0.02, "
         "num_diffusion_timesteps: 1000}\n";
  try {
    load_model(tmp.path, WeightsKind::ema, torch::kCPU);
    FAIL() << "loaded";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("missing down.0.attn.0.k.bias"), std::string::npos) << m;
    EXPECT_NE(m.find("unexpected down.1.attn.0.k.bias"), std::string::npos) << m;
  }
  std::ofstream(tmp.path / "config.yml") << "model: {ema: true}\n";  // no data section
  EXPECT_THROW(load_model(tmp.path, WeightsKind::ema, torch::kCPU), std::runtime_error);
  fs::remove(tmp.path / "ckpt.pth");
  fs::copy_file(test::repo_fixture("original/hostile/legacy.pt"), tmp.path / "model.ckpt");
  fs::copy_file(dir() / "config.yml", tmp.path / "config.yml",
                fs::copy_options::overwrite_existing);
  try {
    load_model(tmp.path, WeightsKind::ema, torch::kCPU);
    FAIL() << "loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("legacy format"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ddpm

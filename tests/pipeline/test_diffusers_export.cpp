// export_diffusers → load_model round trips bit for bit, and refuses what diffusers cannot hold.
#include "pipeline/diffusers_export.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "models/presets.h"
#include "models/state_dict.h"
#include "runs/model_loading.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

void expect_identical(const TensorMap& a, const TensorMap& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << what << ": " << name;
    EXPECT_EQ(b.at(name).scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(b.at(name), t)) << what << ": " << name << " differs";
  }
}

// Every fixture folder (diffusers' and the generated ones) and a model of our own: exported,
// read back, the weights, the model config and the scheduler settings are the same.
TEST(DiffusersExport, ExportThenImportIsBitExact) {
  test::TempDir dir;
  std::vector<fs::path> sources{test::fixture("tiny-unet"),
                                test::repo_fixture("diffusers/ddpm-cifar10-mini"),
                                test::repo_fixture("diffusers/scale-shift-1ch"),
                                test::repo_fixture("diffusers/sparse-swish-f16")};
  int i = 0;
  for (const auto& source : sources) {
    auto original = load_model(source, WeightsKind::ema, torch::kCPU);
    const fs::path out = dir.path / std::to_string(i++);
    export_diffusers(original.config, state_dict(*original.model), out);
    auto back = load_model(out, WeightsKind::ema, torch::kCPU);
    expect_identical(state_dict(*original.model), state_dict(*back.model), source.string());
    EXPECT_EQ(back.config.model, original.config.model) << source;
    EXPECT_EQ(to_json(back.config)["schedule"], to_json(original.config)["schedule"]) << source;
    EXPECT_EQ(back.config.prediction_type, original.config.prediction_type) << source;
    EXPECT_EQ(to_json(back.config)["sampling"], to_json(original.config)["sampling"]) << source;
    const auto weights = read_safetensors(out / "diffusion_pytorch_model.safetensors");
    EXPECT_EQ(weights.metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
    for (const auto& [name, t] : weights.tensors) {
      EXPECT_EQ(t.scalar_type(), torch::kFloat32) << name;
      EXPECT_EQ(name.find(".query."), std::string::npos) << "current spelling: " << name;
    }
  }

  // One of our runs' models (random weights, ddim sampling): the same.
  torch::manual_seed(3);
  RunConfig run;
  run.model = model_preset("fashion-mnist");
  run.schedule.beta_schedule = BetaSchedule::squaredcos_cap_v2;
  run.prediction_type = PredictionType::v_prediction;
  UNet model(run.model);
  export_diffusers(run, state_dict(*model), dir.path / "ours");
  auto back = load_model(dir.path / "ours", WeightsKind::ema, torch::kCPU);
  expect_identical(state_dict(*model), state_dict(*back.model), "fashion-mnist");
  EXPECT_EQ(back.config.model, run.model);
  EXPECT_EQ(to_json(back.config)["schedule"], to_json(run)["schedule"]);
  EXPECT_EQ(back.config.prediction_type, PredictionType::v_prediction);
  EXPECT_EQ(back.config.sampling.sampler.kind, SamplerKind::ddim);
  auto scheduler =
      nlohmann::json::parse(std::ifstream(dir.path / "ours" / "scheduler_config.json"));
  EXPECT_EQ(scheduler["_class_name"], "DDIMScheduler");
  auto config = nlohmann::json::parse(std::ifstream(dir.path / "ours" / "config.json"));
  EXPECT_EQ(config["_class_name"], "UNet2DModel");
  EXPECT_EQ(config["_diffusers_version"], "0.21.4");
}

TEST(DiffusersExport, RefusesWhatDiffusersCannotHoldBeforeWritingAnything) {
  test::TempDir dir;
  RunConfig keras;
  keras.model = model_preset("keras-ddim");
  UNet model(keras.model);
  try {
    export_diffusers(keras, state_dict(*model), dir.path / "keras");
    ADD_FAILURE() << "exported a keras-layout model";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("layout keras"));
  }
  EXPECT_FALSE(fs::exists(dir.path / "keras"));

  RunConfig run;
  run.model = model_preset("fashion-mnist");
  UNet ours(run.model);
  auto weights = state_dict(*ours);
  weights.erase("conv_in.bias");
  EXPECT_THROW(export_diffusers(run, weights, dir.path / "partial"), std::runtime_error);
  EXPECT_FALSE(fs::exists(dir.path / "partial"));

  fs::create_directories(dir.path / "full");
  std::ofstream(dir.path / "full" / "keep.txt") << "x";
  try {
    export_diffusers(run, state_dict(*ours), dir.path / "full");
    ADD_FAILURE() << "exported into a non-empty folder";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("not empty"));
  }
}

}  // namespace
}  // namespace ddpm

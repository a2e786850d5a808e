// Hostile configs and tensor inputs (issue #13): every model, run and scheduler config and every
// --init-noise / --input file that is wrong in type, range, class or syntax is refused with a
// message naming the file and the fault, through the same entry points the CLI uses
// (read_model_config, load_model, read_initial_noise, read_predict_input).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "io/safetensors.h"
#include "models/unet_config.h"
#include "pipeline/predict.h"
#include "runs/generate.h"
#include "runs/model_loading.h"
#include "runs/run_config.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

void spit(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

/// The tiny-unet fixture's config.json with `patch` merged in (RFC 7386: null removes a key).
json tiny_unet_config(const json& patch) {
  std::ifstream in(test::fixture("tiny-unet/config.json"));
  json j = json::parse(in);
  j.merge_patch(patch);
  return j;
}

/// A diffusers model folder holding `config` as config.json (and, when given, `scheduler` as
/// scheduler_config.json); the weights file exists but is never read by read_model_config.
fs::path diffusers_folder(const fs::path& dir, const std::string& config,
                          const std::string& scheduler = "") {
  spit(dir / "config.json", config);
  spit(dir / "diffusion_pytorch_model.safetensors", "");
  if (!scheduler.empty()) spit(dir / "scheduler_config.json", scheduler);
  return dir;
}

TEST(HostileConfigs, DiffusersUNetConfigsNameTheFileAndTheFault) {
  test::TempDir dir;
  std::vector<json> levels(70, 32);
  const std::vector<std::pair<std::string, std::string>> cases{
      {"not JSON {", "invalid JSON"},
      {"[1, 2, 3]", "expected a UNet2DModel config (a JSON object), found array"},
      {tiny_unet_config({{"in_channels", "3"}}).dump(), "in_channels: expected an integer"},
      {tiny_unet_config({{"in_channels", -1}}).dump(),
       "in_channels and out_channels must be in [1, 16384] (kMaxChannels), got -1 and 3"},
      {tiny_unet_config({{"out_channels", 0}}).dump(), "got 3 and 0"},
      {tiny_unet_config({{"block_out_channels", {0, 64}}}).dump(),
       "block_out_channels must be in [1, 16384] (kMaxChannels), got [0, 64]"},
      {tiny_unet_config({{"block_out_channels", {32, 1 << 20}}}).dump(), "kMaxChannels"},
      {tiny_unet_config({{"sample_size", 1000000000}}).dump(),
       "sample_size must be in [1, 8192] (kMaxSampleSize), got 1000000000"},
      {tiny_unet_config({{"sample_size", -16}}).dump(), "got -16"},
      {tiny_unet_config({{"sample_size", 1.5}}).dump(), "sample_size must be an integer"},
      // 70 levels once shifted 1 << 69 (undefined behaviour) when checking sample_size.
      {tiny_unet_config({{"block_out_channels", levels}}).dump(),
       "block_out_channels lists 70 levels, more than the 16 allowed (kMaxLevels)"},
      {tiny_unet_config({{"layers_per_block", 1000}}).dump(), "kMaxLayersPerBlock"},
      {tiny_unet_config({{"_class_name", "UNet2DConditionModel"}}).dump(),
       "_class_name \"UNet2DConditionModel\" is not supported"},
      {tiny_unet_config({{"act_fn", "gelu"}}).dump(), "act_fn = \"gelu\" is not supported"},
      {tiny_unet_config({{"down_block_types", {"DownBlock2D", 7}}}).dump(),
       "down_block_types[1] must be a block name"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const fs::path model = diffusers_folder(dir.path / std::to_string(i), cases[i].first);
    const std::string message = error_of([&] { read_model_config(model); });
    EXPECT_THAT(message, HasSubstr((model / "config.json").string())) << cases[i].first;
    EXPECT_THAT(message, HasSubstr(cases[i].second)) << cases[i].first;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(HostileConfigs, SchedulerConfigsNameTheFileAndTheFault) {
  test::TempDir dir;
  const std::string unet = tiny_unet_config(json::object()).dump();
  const json ddim{{"_class_name", "DDIMScheduler"}, {"num_train_timesteps", 1000}};
  auto with = [&](const json& patch) {
    json j = ddim;
    j.merge_patch(patch);
    return j.dump();
  };
  const std::vector<std::pair<std::string, std::string>> cases{
      {"{\"_class_name\": ", "invalid JSON"},
      {with({{"_class_name", "LMSDiscreteScheduler"}}),
       "_class_name \"LMSDiscreteScheduler\" is not supported (allowed: DDPMScheduler"},
      {with({{"num_train_timesteps", 1000000000000}}),
       "num_train_timesteps must be in [2, 100000] (kMaxTrainTimesteps), got 1000000000000"},
      {with({{"num_train_timesteps", 0}}), "num_train_timesteps must be in [2, 100000]"},
      {with({{"num_train_timesteps", "1000"}}), "num_train_timesteps: expected an integer"},
      {with({{"beta_start", "small"}}), "beta_start: expected a number"},
      {with({{"beta_schedule", "sigmoid"}}), "beta_schedule = \"sigmoid\" is not supported"},
      {with({{"trained_betas", {0.1, "x"}}}), "trained_betas must hold numbers"},
      {with({{"prediction_type", 3}}), "prediction_type = 3 is not supported"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const fs::path model = diffusers_folder(dir.path / std::to_string(i), unet, cases[i].first);
    const std::string message = error_of([&] { read_model_config(model); });
    EXPECT_THAT(message, HasSubstr((model / "scheduler_config.json").string())) << cases[i].first;
    EXPECT_THAT(message, HasSubstr(cases[i].second)) << cases[i].first;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

/// A run directory (config.json + checkpoints/latest/{state.json, model.safetensors}).
fs::path run_folder(const fs::path& dir, const std::string& config,
                    const std::string& state = R"({"step": 3})") {
  spit(dir / "config.json", config);
  spit(dir / "checkpoints/latest/state.json", state);
  spit(dir / "checkpoints/latest/model.safetensors", "");
  spit(dir / "checkpoints/latest/ema.safetensors", "");
  return dir;
}

TEST(HostileConfigs, RunConfigsNameTheFileAndTheFault) {
  test::TempDir dir;
  const json valid = to_json(RunConfig{});
  auto with = [&](const json& patch) {
    json j = valid;
    j.merge_patch(patch);
    return j.dump();
  };
  const std::vector<std::pair<std::string, std::string>> cases{
      {"// just a comment", "invalid JSON"},
      {"\"a string\"", "expected a JSON object, found string"},
      {with({{"model", {{"in_channels", -3}}}}), "in_channels and out_channels must be in [1, "},
      {with({{"model", {{"sample_size", 1 << 30}}}}), "sample_size must be in [1, 8192]"},
      {with({{"model", {{"block_out_channels", json::array()}}}}), "at least one level"},
      {with({{"model", {{"norm_num_groups", "8"}}}}), "model.norm_num_groups: expected an integer"},
      {with({{"model", {{"block_out_channels", {32, 2.44444e35}}}}}),
       "model.block_out_channels: expected an integer"},
      {with({{"model", {{"block_out_channels", {32, 2.5}}}}}),
       "model.block_out_channels: expected an integer"},
      {with({{"schedule", {{"num_train_timesteps", int64_t(1) << 40}}}}),
       "num_train_timesteps must be in [2, 100000]"},
      {with({{"training", {{"batch_size", 0}}}}), "training.batch_size must be >= 1"},
      {with({{"training", {{"lr", "fast"}}}}), "training.lr: expected a number"},
      {with({{"training", {{"loss", "huber"}}}}), "training.loss"},
      {with({{"data", {{"image_size", 100000}}}}), "up to 8192, got 100000"},
      {with({{"sampling", {{"sampler", "lms"}}}}), "lms"},
      {with({{"surprise", 1}}), "unknown key 'surprise'"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const fs::path run = run_folder(dir.path / std::to_string(i), cases[i].first);
    const std::string message = error_of([&] { read_model_config(run); });
    EXPECT_THAT(message, HasSubstr((run / "config.json").string())) << cases[i].first;
    EXPECT_THAT(message, HasSubstr(cases[i].second)) << cases[i].first;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(HostileConfigs, CheckpointStateWithAWrongStepNamesTheFile) {
  for (const char* state : {R"({"step": "three"})", R"({"step": -1})", "[3]"}) {
    test::TempDir run_dir;
    const fs::path run = run_folder(run_dir.path, to_json(RunConfig{}).dump(), state);
    const std::string message = error_of([&] { load_model(run, WeightsKind::ema, torch::kCPU); });
    EXPECT_THAT(message, HasSubstr((run / "checkpoints/latest/state.json").string())) << state;
    EXPECT_THAT(message, HasSubstr("expected an object with a non-negative integer step")) << state;
  }
}

UNetConfig tiny_model() {
  UNetConfig c = unet_config_from_json({{"sample_size", 8},
                                        {"in_channels", 1},
                                        {"out_channels", 1},
                                        {"block_out_channels", {8, 16}},
                                        {"down_block_types", {"DownBlock2D", "DownBlock2D"}},
                                        {"up_block_types", {"UpBlock2D", "UpBlock2D"}},
                                        {"norm_num_groups", 4}});
  return c;
}

TEST(HostileConfigs, InitNoiseWithWrongNamesShapesOrDtypesIsNamed) {
  test::TempDir dir;
  const UNetConfig model = tiny_model();  // x_T is [N, 1, 8, 8]
  const std::vector<std::pair<TensorMap, std::string>> cases{
      {{{"noise", torch::zeros({2, 1, 8, 8})}}, "no tensor named x_T (found: noise)"},
      {{}, "no tensor named x_T (found: none)"},
      {{{"x_T", torch::zeros({2, 1, 8, 8}, torch::kInt32)}}, "x_T has dtype Int"},
      {{{"x_T", torch::zeros({2, 3, 8, 8})}}, "x_T has shape [2, 3, 8, 8] but the model needs"},
      {{{"x_T", torch::zeros({1, 8, 8})}}, "x_T has shape [1, 8, 8]"},
      {{{"x_T", torch::zeros({0, 1, 8, 8})}}, "with N >= 1"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const fs::path file = dir.path / (std::to_string(i) + ".safetensors");
    write_safetensors(file, cases[i].first);
    const std::string message = error_of([&] { read_initial_noise(file, model); });
    EXPECT_THAT(message, HasSubstr(file.string())) << i;
    EXPECT_THAT(message, HasSubstr(cases[i].second)) << i;
  }
  spit(dir.path / "garbage.safetensors", "garbage");
  EXPECT_THAT(error_of([&] { read_initial_noise(dir.path / "garbage.safetensors", model); }),
              HasSubstr((dir.path / "garbage.safetensors").string() + ": file is 7 bytes"));
}

TEST(HostileConfigs, PredictInputsWithWrongNamesShapesOrDtypesAreNamed) {
  test::TempDir dir;
  const UNetConfig model = tiny_model();  // 2 levels: H and W multiples of 2
  const auto t = torch::zeros({2}, torch::kInt64);
  const std::vector<std::pair<TensorMap, std::string>> cases{
      {{{"x", torch::zeros({2, 1, 8, 8})}}, "no tensor named t (found: x)"},
      {{{"t", t}}, "no tensor named x (found: t)"},
      {{{"x", torch::zeros({2, 1, 8, 8}, torch::kUInt8)}, {"t", t}}, "x must be a float tensor"},
      {{{"x", torch::zeros({2, 2, 8, 8})}, {"t", t}}, "x must be a float tensor [N, 1, H, W]"},
      {{{"x", torch::zeros({2, 1, 7, 8})}, {"t", t}}, "H and W must be multiples of 2"},
      {{{"x", torch::zeros({2, 1, 8, 0})}, {"t", t}}, "H and W must be multiples of 2"},
      {{{"x", torch::zeros({2, 1, 8, 8})}, {"t", torch::zeros({2})}},
       "t must be an integer tensor [N] = [2]"},
      {{{"x", torch::zeros({2, 1, 8, 8})}, {"t", torch::full({2}, 5000, torch::kInt64)}},
       "t holds values outside [0, 1000)"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const fs::path file = dir.path / (std::to_string(i) + ".safetensors");
    write_safetensors(file, cases[i].first);
    const std::string message = error_of([&] { read_predict_input(file, model, 1000); });
    EXPECT_THAT(message, HasSubstr(file.string())) << i;
    EXPECT_THAT(message, HasSubstr(cases[i].second)) << i;
  }
}

}  // namespace
}  // namespace ddpm

// The diffusers workflow end to end through the `ddpm` program: sample a diffusers folder from a
// given x_T and save the float result, predict, export, train --init and train --arch.
#include <fstream>

#include "cli_runner.h"
#include "io/image.h"
#include "models/presets.h"
#include "models/state_dict.h"
#include "runs/checkpoint.h"
#include "runs/generate.h"
#include "runs/model_loading.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::run_ddpm;

// 16 random 16×16 RGB PNGs: the shape of the tiny-unet fixture's images.
fs::path rgb_images(const fs::path& root) {
  torch::manual_seed(2);
  const fs::path dir = root / "images";
  fs::create_directories(dir);
  for (int i = 0; i < 16; ++i)
    write_png(dir / fmt::format("img{:02d}.png", i),
              torch::randint(0, 256, {3, 16, 16}, torch::kUInt8));
  return dir;
}

// Few steps, a 4-image 2-step DDIM grid at the end, one thread.
fs::path short_training(const fs::path& root) {
  const fs::path path = root / "short.json";
  std::ofstream(path) << nlohmann::json{{"training",
                                         {{"steps", 2},
                                          {"batch_size", 4},
                                          {"sample_every", 0},
                                          {"checkpoint_every", 2},
                                          {"log_every", 1},
                                          {"sample_images", 4},
                                          {"sample_steps", 2},
                                          {"threads", 1}}}};
  return path;
}

const fs::path kTiny = test::fixture("tiny-unet");

// Same x_T as diffusers' DDIM-10 run: the CLI's x_0 matches diffusers (≤ 1e-3) and the library's
// generate() on the same inputs; the scheduler config's DDPM default is overridden by flags.
TEST(CliDiffusers, SampleFromInitNoiseSavesTheFloatSample) {
  test::TempDir dir;
  const fs::path ddim = test::fixture("tiny-unet/ddim-10-leading.safetensors");  // holds x_T
  const fs::path out = dir.path / "x0.safetensors";
  auto r =
      run_ddpm({"sample", "--model", kTiny.string(), "--sampler", "ddim", "--steps", "10",
                "--init-noise", ddim.string(), "--save-tensor", out.string(), "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "diffusers model folder")) << r.output;
  EXPECT_TRUE(contains(r.output, "sampler: ddim, steps 10,")) << r.output;
  EXPECT_FALSE(contains(r.output, "grid")) << "--save-tensor alone writes no PNG";
  const auto x0 = read_safetensors(out).tensors.at("x_0");
  EXPECT_EQ(x0.scalar_type(), torch::kFloat32);
  const auto ref = test::load_fixture("tiny-unet/ddim-10-leading.safetensors");
  const auto vs_diffusers = test::tensors_close(x0, ref.at("x_0"), 1e-3);
  std::cout << "[ parity   ] ddpm sample --init-noise vs diffusers DDIM-10: "
            << vs_diffusers.message() << "\n";
  EXPECT_TRUE(vs_diffusers);

  auto loaded = load_model(kTiny, WeightsKind::ema, torch::kCPU);
  SamplingConfig sampling = loaded.config.sampling;
  sampling.sampler = switch_sampler(sampling.sampler, SamplerKind::ddim);
  sampling.sampler.steps = 10;
  GenerateRequest request;
  request.x_T = ref.at("x_T");
  request.count = 2;
  const auto library =
      generate(loaded.model, loaded.schedule, loaded.config.prediction_type, sampling, request);
  // The library's default is the reference oneDNN path; ddpm's (autotuned Winograd where it
  // wins) stays within the diffusers tolerance above, and on the reference path it is the
  // library's result exactly.
  r = run_ddpm({"sample", "--model", kTiny.string(), "--sampler", "ddim", "--steps", "10",
                "--init-noise", ddim.string(), "--save-tensor", out.string(), "--threads", "1"},
               "DDPM_CONV=onednn");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(test::tensors_close(read_safetensors(out).tensors.at("x_0"), library, 1e-6));

  // Without --sampler the scheduler config's class decides (DDPMScheduler → ddpm); a PNG too.
  auto ddpm = run_ddpm({"sample", "--model", kTiny.string(), "--steps", "4", "--init-noise",
                        ddim.string(), "--save-tensor", out.string(), "--out",
                        (dir.path / "g.png").string(), "--threads", "1"});
  ASSERT_EQ(ddpm.exit_code, 0) << ddpm.output;
  EXPECT_TRUE(contains(ddpm.output, "sampler: ddpm, steps 4,")) << ddpm.output;
  EXPECT_TRUE(fs::is_regular_file(dir.path / "g.png"));
}

// A folder whose scheduler_config.json is another class samples with that class's sampler and
// no flag but --steps; --init-noise is unit-variance x_T, scaled by the sampler (Euler: σ_max).
TEST(CliDiffusers, TheFoldersSchedulerClassPicksTheSampler) {
  const std::vector<std::pair<std::string, std::string>> runs{
      {"euler-20", "sampler: euler,"},
      {"dpmpp2m-10", "sampler: dpm-solver++,"},
      {"heun-10", "sampler: heun,"}};
  for (const auto& [run, printed] : runs) {
    SCOPED_TRACE(run);
    test::TempDir dir;
    const fs::path model = dir.path / "model", ref = test::fixture("samplers/tiny-unet/" + run);
    fs::create_directories(model);
    for (const char* file : {"config.json", "diffusion_pytorch_model.safetensors"})
      fs::copy_file(kTiny / file, model / file);
    fs::copy_file(ref / "scheduler_config.json", model / "scheduler_config.json");
    std::string steps;
    std::ifstream(ref / "steps") >> steps;
    const fs::path out = dir.path / "x0.safetensors";
    auto r = run_ddpm({"sample", "--model", model.string(), "--steps", steps, "--init-noise",
                       (ref / "run.safetensors").string(), "--save-tensor", out.string(),
                       "--threads", "1"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, printed)) << r.output;
    const auto expected = read_safetensors(ref / "run.safetensors").tensors.at("x_0");
    auto check = test::tensors_close(read_safetensors(out).tensors.at("x_0"), expected, 1.3e-3);
    std::cout << "[ parity   ] ddpm sample --model (" << run
              << " scheduler) vs diffusers: " << check.message() << "\n";
    EXPECT_TRUE(check);
  }
}

TEST(CliDiffusers, SampleErrorsNameWhatIsWrong) {
  test::TempDir dir;
  const fs::path ddim = test::fixture("tiny-unet/ddim-10-leading.safetensors");
  write_safetensors(dir.path / "bad.safetensors", {{"x_T", torch::zeros({2, 1, 16, 16})}});
  write_safetensors(dir.path / "none.safetensors", {{"noise", torch::zeros({2, 3, 16, 16})}});
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases{
      {{"--init-noise", ddim.string(), "--n", "3"}, {"--n 3", "holds 2 images"}},
      {{"--init-noise", (dir.path / "bad.safetensors").string()},
       {"bad.safetensors", "x_T has shape [2, 1, 16, 16]", "[N, 3, 16, 16]"}},
      {{"--init-noise", (dir.path / "none.safetensors").string()},
       {"no tensor named x_T", "noise"}},
      {{"--weights", "raw"}, {"--weights raw", "one set of weights"}},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args{"sample", "--model", kTiny.string(), "--save-tensor",
                                  (dir.path / "o.safetensors").string()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = run_ddpm(args);
    EXPECT_NE(r.exit_code, 0) << r.output;
    for (const auto& e : c.expected) EXPECT_TRUE(contains(r.output, e)) << e << "\n" << r.output;
  }
  EXPECT_FALSE(fs::exists(dir.path / "o.safetensors"));
}

TEST(CliDiffusers, PredictWritesTheRawModelOutput) {
  test::TempDir dir;
  const fs::path out = dir.path / "eps.safetensors";
  auto r = run_ddpm({"predict", "--model", kTiny.string(), "--input",
                     test::fixture("tiny-unet/forward.safetensors").string(), "--save-tensor",
                     out.string(), "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto eps = read_safetensors(out).tensors.at("eps");
  const auto check =
      test::tensors_close(eps, test::load_fixture("tiny-unet/forward.safetensors").at("eps"), 1e-4);
  std::cout << "[ parity   ] ddpm predict vs diffusers forward: " << check.message() << "\n";
  EXPECT_TRUE(check);

  write_safetensors(dir.path / "no_t.safetensors", {{"x", torch::zeros({2, 3, 16, 16})}});
  write_safetensors(dir.path / "float_t.safetensors",
                    {{"x", torch::zeros({2, 3, 16, 16})}, {"t", torch::zeros({2})}});
  write_safetensors(
      dir.path / "big_t.safetensors",
      {{"x", torch::zeros({2, 3, 16, 16})}, {"t", torch::tensor({5, 1000}, torch::kInt64)}});
  for (const auto& [file, expected] : std::vector<std::pair<std::string, std::string>>{
           {"no_t", "no tensor named t"},
           {"float_t", "t must be an integer tensor [N] = [2]"},
           {"big_t", "outside [0, 1000)"}}) {
    auto bad =
        run_ddpm({"predict", "--model", kTiny.string(), "--input",
                  (dir.path / (file + ".safetensors")).string(), "--save-tensor", out.string()});
    EXPECT_NE(bad.exit_code, 0) << file;
    EXPECT_TRUE(contains(bad.output, expected)) << bad.output;
  }
}

TEST(CliDiffusers, ExportWritesAFolderThatLoadsBitExact) {
  test::TempDir dir;
  // A run directory of ours, made without training: config.json + one checkpoint.
  RunConfig run;
  run.model = model_preset("fashion-mnist");
  run.model.sample_size = 16;
  run.sampling.sampler = switch_sampler(run.sampling.sampler, SamplerKind::ddpm);
  const fs::path run_dir = dir.path / "run";
  fs::create_directories(run_dir);
  std::ofstream(run_dir / "config.json") << to_json(run).dump(2);
  torch::manual_seed(4);
  UNet online(run.model), ema(run.model);
  write_checkpoint(run_dir / "checkpoints/latest",
                   {state_dict(*online), state_dict(*ema), {}, {{"step", 7}}});

  const fs::path out = dir.path / "exported";
  auto r = run_ddpm(
      {"export", "--model", run_dir.string(), "--format", "diffusers", "--out", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* file :
       {"config.json", "diffusion_pytorch_model.safetensors", "scheduler_config.json"})
    EXPECT_TRUE(fs::is_regular_file(out / file)) << file;
  auto back = load_model(out, WeightsKind::ema, torch::kCPU);
  for (const auto& [name, t] : state_dict(*ema))
    EXPECT_TRUE(torch::equal(state_dict(*back.model).at(name), t)) << "EMA by default: " << name;
  EXPECT_EQ(back.config.sampling.sampler.kind, SamplerKind::ddpm);

  auto raw = run_ddpm({"export", "--model", run_dir.string(), "--format", "diffusers", "--out",
                       (dir.path / "raw").string(), "--weights", "raw"});
  ASSERT_EQ(raw.exit_code, 0) << raw.output;
  auto raw_back = load_model(dir.path / "raw", WeightsKind::ema, torch::kCPU);
  for (const auto& [name, t] : state_dict(*online))
    EXPECT_TRUE(torch::equal(state_dict(*raw_back.model).at(name), t)) << name;

  // The exported folder samples like any other.
  auto sample = run_ddpm({"sample", "--model", out.string(), "--n", "2", "--sampler", "ddim",
                          "--steps", "2", "--out", (dir.path / "s.png").string()});
  EXPECT_EQ(sample.exit_code, 0) << sample.output;

  // Refusals: an existing folder, a keras-layout run, an unknown format.
  auto again = run_ddpm(
      {"export", "--model", run_dir.string(), "--format", "diffusers", "--out", out.string()});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_TRUE(contains(again.output, "not empty")) << again.output;
  RunConfig keras;
  keras.model = model_preset("keras-ddim");
  const fs::path keras_dir = dir.path / "keras";
  fs::create_directories(keras_dir);
  std::ofstream(keras_dir / "config.json") << to_json(keras).dump(2);
  UNet k(keras.model);
  write_checkpoint(keras_dir / "checkpoints/latest",
                   {state_dict(*k), state_dict(*k), {}, {{"step", 1}}});
  auto refused = run_ddpm({"export", "--model", keras_dir.string(), "--format", "diffusers",
                           "--out", (dir.path / "k").string()});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_TRUE(contains(refused.output, "cannot express")) << refused.output;
  EXPECT_TRUE(contains(refused.output, "layout keras")) << refused.output;
  EXPECT_FALSE(fs::exists(dir.path / "k"));
  auto onnx = run_ddpm({"export", "--model", run_dir.string(), "--format", "onnx", "--out",
                        (dir.path / "o").string()});
  EXPECT_NE(onnx.exit_code, 0);
  EXPECT_TRUE(contains(onnx.output, "diffusers")) << onnx.output;
}

TEST(CliDiffusers, TrainInitFineTunesADiffusersModel) {
  test::TempDir dir;
  const auto images = rgb_images(dir.path).string();
  const auto config = short_training(dir.path).string();
  const fs::path run = dir.path / "ft";
  auto r = run_ddpm({"train", "--init", kTiny.string(), "--data", images, "--image-size", "16",
                     "--config", config, "--out", run.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "initialised from")) << r.output;
  EXPECT_TRUE(contains(r.output, "step 2/2")) << r.output;
  const RunConfig written =
      run_config_from_json(nlohmann::json::parse(std::ifstream(run / "config.json")));
  EXPECT_EQ(written.model, read_model_config(kTiny).model);
  EXPECT_EQ(fs::path(written.training.init), fs::absolute(kTiny).lexically_normal());
  EXPECT_EQ(written.sampling.sampler.kind, SamplerKind::ddpm) << "the model's DDPMScheduler";
  auto sample = run_ddpm({"sample", "--model", run.string(), "--n", "2", "--sampler", "ddim",
                          "--steps", "2", "--out", (dir.path / "s.png").string()});
  EXPECT_EQ(sample.exit_code, 0) << sample.output;

  // Contradictions are refused before any work.
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> expected;
  };
  const fs::path arch = test::fixture("tiny-unet/config.json");
  std::ofstream(dir.path / "wider.json") << R"({"model": {"block_out_channels": [64, 64]}})";
  const std::vector<Case> cases{
      {{"--preset", "ddpm-cifar10", "--init", kTiny.string()},
       {"--preset ddpm-cifar10 contradicts --init", "block_out_channels"}},
      {{"--init", kTiny.string(), "--arch", arch.string()}, {"--init", "--arch"}},
      {{"--arch", arch.string(), "--config", (dir.path / "wider.json").string()},
       {"model.block_out_channels", "--arch"}},
      {{"--init", kTiny.string(), "--resume"}, {"--resume"}},
      {{"--init", (dir.path / "missing").string()}, {"missing", "no such file"}},
      {{"--init", kTiny.string(), "--image-size", "32"}, {"16x16", "32x32"}},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args{"train", "--data", images, "--out", (dir.path / "bad").string()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto bad = run_ddpm(args);
    const std::string shown = fmt::format("ddpm {}\n{}", fmt::join(args, " "), bad.output);
    EXPECT_NE(bad.exit_code, 0) << shown;
    for (const auto& e : c.expected) EXPECT_TRUE(contains(bad.output, e)) << e << " in " << shown;
    EXPECT_FALSE(fs::exists(dir.path / "bad" / "checkpoints")) << shown;
  }
}

TEST(CliDiffusers, TrainArchStartsAFreshModelOfThatArchitecture) {
  test::TempDir dir;
  const auto images = rgb_images(dir.path).string();
  const fs::path run = dir.path / "arch";
  auto r = run_ddpm({"train", "--arch", test::fixture("tiny-unet/config.json").string(), "--data",
                     images, "--config", short_training(dir.path).string(), "--out", run.string(),
                     "--seed", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "architecture from")) << r.output;
  const RunConfig written =
      run_config_from_json(nlohmann::json::parse(std::ifstream(run / "config.json")));
  EXPECT_EQ(written.model, read_model_config(kTiny).model);
  EXPECT_TRUE(written.training.init.empty());
  // Fresh weights, not the fixture's: two AdamW steps move a weight by ~lr = 1e-3 at most
  // (a loaded conv_in would stay that close), a fresh initialisation is O(0.1) away.
  const auto trained = read_checkpoint(run / "checkpoints/latest").model;
  const auto fixture = test::load_fixture("tiny-unet/diffusion_pytorch_model.safetensors");
  const double gap =
      (trained.at("conv_in.weight") - fixture.at("conv_in.weight")).abs().max().item<double>();
  EXPECT_GT(gap, 0.05) << "conv_in looks loaded from the fixture";
}

// --init also takes one of our runs, with either set of its weights: a run started from run A
// with --init-weights raw begins at A's online weights, with ema at A's EMA weights.
TEST(CliDiffusers, TrainInitFromOurRunTakesTheChosenWeights) {
  test::TempDir dir;
  const auto images = rgb_images(dir.path).string();
  const auto config = short_training(dir.path).string();
  const fs::path a = dir.path / "a";
  // No warmup and a short EMA horizon, so that after 3 steps the two sets differ by ~1e-3.
  auto first = run_ddpm({"train", "--arch", test::fixture("tiny-unet/config.json").string(),
                         "--data", images, "--config", config, "--out", a.string(), "--steps", "3",
                         "--warmup-steps", "0", "--ema-decay", "0.5"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const auto source = read_checkpoint(a / "checkpoints/latest");
  // A learning rate of 1e-12 leaves the weights where --init put them (to float rounding).
  for (const std::string which : {"raw", "ema"}) {
    const fs::path b = dir.path / ("from_" + which);
    auto r = run_ddpm({"train", "--init", a.string(), "--init-weights", which, "--data", images,
                       "--config", config, "--lr", "1e-12", "--steps", "1", "--out", b.string()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "(" + which + " weights)")) << r.output;
    const auto started = read_checkpoint(b / "checkpoints/latest").model;
    const auto& expected = which == "raw" ? source.model : source.ema;
    const auto& other = which == "raw" ? source.ema : source.model;
    double to_expected = 0, to_other = 0;
    for (const auto& [name, t] : started) {
      to_expected = std::max(to_expected, (t - expected.at(name)).abs().max().item<double>());
      to_other = std::max(to_other, (t - other.at(name)).abs().max().item<double>());
    }
    EXPECT_LT(to_expected, 1e-6) << which;
    EXPECT_GT(to_other, 1e-5) << which << ": raw and EMA weights of run a should differ";
  }
}

}  // namespace
}  // namespace ddpm

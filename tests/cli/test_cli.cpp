// The `ddpm` program end to end, as a user runs it: help, validation, train → sample, resume,
// and checkpoints that survive SIGKILL at any moment.
#include <fstream>
#include <random>
#include <thread>

#include "cli_runner.h"
#include "io/image.h"
#include "runs/checkpoint.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::read_bytes;
using test::run_ddpm;

// 24 random 20×20 RGB PNGs (the model size, 16, is reached by center crop + resize).
fs::path image_folder(const fs::path& root) {
  torch::manual_seed(1);
  const fs::path dir = root / "images";
  fs::create_directories(dir / "nested");
  for (int i = 0; i < 24; ++i)
    write_png(dir / (i % 2 ? "nested" : ".") / fmt::format("img{:02d}.png", i),
              torch::randint(0, 256, {3, 20, 20}, torch::kUInt8));
  return dir;
}

// A tiny model and run; the keys are the same as in a run's config.json.
fs::path tiny_config(const fs::path& root, int64_t steps, int64_t checkpoint_every = 2) {
  const fs::path path = root / "tiny.json";
  std::ofstream(path) << nlohmann::json{{"model", test::tiny_model_json()},
                                        {"training",
                                         {{"steps", steps},
                                          {"batch_size", 4},
                                          {"sample_every", 0},
                                          {"checkpoint_every", checkpoint_every},
                                          {"log_every", 1},
                                          {"sample_images", 4},
                                          {"sample_steps", 2},
                                          {"threads", 1}}},
                                        {"sampling", {{"steps", 3}}}};
  return path;
}

/// `flag` as a whole word of a --help text: followed by a space, comma or line end (so that
/// --n is not found in --no-clip, nor --out in --out-dir).
bool has_flag(const std::string& help, const std::string& flag) {
  for (size_t at = help.find(flag); at != std::string::npos; at = help.find(flag, at + 1)) {
    const size_t end = at + flag.size();
    if (end == help.size() || help[end] == ' ' || help[end] == ',' || help[end] == '\n')
      return true;
  }
  return false;
}

TEST(Cli, HelpListsEveryFlag) {
  auto top = run_ddpm({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  for (const char* sub : {"train", "sample", "presets"}) EXPECT_TRUE(contains(top.output, sub));
  auto train = run_ddpm({"train", "--help"});
  EXPECT_EQ(train.exit_code, 0);
  for (const char* flag : {"--preset", "--config", "--data", "--image-size", "--out", "--steps",
                           "--epochs", "--batch-size", "--lr", "--seed", "--resume", "--device",
                           "--loss", "--ema-decay", "--grad-clip", "--warmup-steps"})
    EXPECT_TRUE(has_flag(train.output, flag)) << flag;
  auto sample = run_ddpm({"sample", "--help"});
  EXPECT_EQ(sample.exit_code, 0);
  for (const char* flag :
       {"--model", "--sampler", "--steps", "--eta", "--timestep-spacing", "--no-clip", "--n",
        "--batch-size", "--seed", "--weights", "--out", "--out-dir"})
    EXPECT_TRUE(has_flag(sample.output, flag)) << flag;
  EXPECT_FALSE(has_flag(sample.output, "--no-such-flag"));
  EXPECT_FALSE(has_flag("  --no-clip  x", "--n")) << "a prefix of another flag is not the flag";
  // The commands of the later issues, with the flags their texts name.
  const std::vector<std::pair<std::string, std::vector<std::string>>> commands{
      {"train", {"--init", "--arch", "--eval-every", "--eval-metric"}},
      {"sample", {"--init-noise", "--save-tensor"}},
      {"predict", {"--model", "--input", "--save-tensor"}},
      {"export", {"--model", "--format", "--out"}},
      {"fid", {"--inception", "--n"}},
      {"kid", {"--subsets", "--subset-size"}},
      {"nll", {"--model", "--data"}},
      {"sweep", {"--model", "--steps", "--eta", "--ddpm-1000"}},
      {"trajectory", {"--model", "--sampler", "--steps", "--n", "--show", "--out"}},
      {"reconstruct", {"--model", "--data", "--from-steps", "--n", "--per-image", "--out"}},
      {"interpolate", {"--model", "--data", "--mode", "--t", "--lambdas", "--out"}},
      {"encode", {"--model", "--out"}},
      {"decode", {"--model", "--codes", "--out"}},
      {"study", {"--data", "--budget", "--out"}}};
  for (const auto& [command, flags] : commands) {
    auto help = run_ddpm({command, "--help"});
    EXPECT_EQ(help.exit_code, 0) << command;
    for (const auto& flag : flags)
      EXPECT_TRUE(has_flag(help.output, flag)) << command << " " << flag;
  }
  auto presets = run_ddpm({"presets"});
  EXPECT_EQ(presets.exit_code, 0);
  for (const char* name : {"fashion-mnist", "ddpm-cifar10", "keras-ddim", "bk", "bbno", "bbano",
                           "bgano", "35,746,307", "1,706,001"})
    EXPECT_TRUE(contains(presets.output, name)) << name;
}

TEST(Cli, BadValuesAreErrorsNamingWhatIsAllowed) {
  test::TempDir dir;
  const auto images = image_folder(dir.path).string();
  const auto out = (dir.path / "run").string();
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> expected;  // all must appear in the output
  };
  std::ofstream(dir.path / "typo.json") << R"({"training": {"stepz": 3}})";
  fs::create_directories(dir.path / "empty");
  const std::vector<Case> cases{
      {{"train", "--preset", "nope", "--out", out}, {"nope", "fashion-mnist", "bgano"}},
      {{"train", "--data", images, "--loss", "huber", "--out", out}, {"huber", "mse", "l1"}},
      {{"train", "--data", images, "--batch-size", "0", "--out", out}, {"batch_size"}},
      {{"train", "--data", images, "--config", (dir.path / "typo.json").string(), "--out", out},
       {"stepz", "steps"}},
      {{"train", "--data", (dir.path / "missing").string(), "--out", out}, {"missing"}},
      {{"train", "--data", (dir.path / "empty").string(), "--out", out}, {"empty"}},
      // The default model halves the image 3 times: 20 is not a multiple of 8.
      {{"train", "--data", images, "--image-size", "20", "--out", out}, {"20", "8"}},
      {{"train", "--resume", "--out", out}, {"no checkpoint"}},
      {{"train", "--data", images, "--precision", "fp8", "--out", out},
       {"fp8", "fp32, bf16, fp16"}},
      {{"train", "--data", images, "--precision", "fp16", "--device", "cpu", "--out", out},
       {"fp16", "bf16"}},
      {{"sample", "--model", out, "--sampler", "lms"},
       {"lms", "ddpm", "ddim", "dpm-solver++", "unipc", "euler-ancestral", "heun", "pndm"}},
      {{"sample", "--model", out, "--sampler", "heun", "--solver-order", "2"},
       {"--solver-order", "heun", "dpm-solver++, dpm-solver, sde-dpm-solver++, unipc"}},
      {{"sample", "--model", out, "--sampler", "unipc", "--solver-order", "4"},
       {"--solver-order", "1 to 3"}},
      {{"sample", "--model", out, "--eta", "2"}, {"eta", "2"}},
      {{"sample", "--model", out}, {"run"}},
  };
  for (const auto& c : cases) {
    auto r = run_ddpm(c.args);
    const std::string shown = fmt::format("ddpm {}\n{}", fmt::join(c.args, " "), r.output);
    EXPECT_NE(r.exit_code, 0) << shown;
    for (const auto& e : c.expected) EXPECT_TRUE(contains(r.output, e)) << e << " in " << shown;
    // Validated before any work starts: no training began, no run directory was left behind.
    EXPECT_FALSE(contains(r.output, "step 1/")) << shown;
    EXPECT_FALSE(fs::exists(dir.path / "run" / "checkpoints")) << shown;
  }
  auto no_dataset = run_ddpm({"train", "--out", out}, "DDPM_FASHION_MNIST_DIR=/nonexistent");
  EXPECT_NE(no_dataset.exit_code, 0);
  EXPECT_TRUE(contains(no_dataset.output, "apt")) << no_dataset.output;
  EXPECT_TRUE(contains(no_dataset.output, "dataset-fashion-mnist")) << no_dataset.output;
}

TEST(Cli, TrainThenSampleFromAnImageFolder) {
  test::TempDir dir;
  const auto images = image_folder(dir.path);
  std::ofstream(images / "broken.png") << "not a png";
  const auto run = dir.path / "run";
  auto train = run_ddpm({"train", "--data", images.string(), "--image-size", "16", "--config",
                         tiny_config(dir.path, 4).string(), "--out", run.string(), "--seed", "3"});
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_TRUE(contains(train.output, "broken.png")) << "one warning naming the corrupt file";
  EXPECT_TRUE(contains(train.output, "step 4/4")) << train.output;
  EXPECT_TRUE(fs::is_regular_file(run / "samples/step_000004.png"));
  auto config = nlohmann::json::parse(std::ifstream(run / "config.json"));
  EXPECT_EQ(config["model"]["sample_size"], 16);
  EXPECT_EQ(config["model"]["in_channels"], 3);  // follows the data

  auto sample = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"sample", "--model", run.string(), "--n", "4"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_ddpm(args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r;
  };
  sample({"--seed", "1", "--out", (dir.path / "a.png").string()});
  sample({"--seed", "1", "--out", (dir.path / "b.png").string()});
  sample({"--seed", "2", "--out", (dir.path / "c.png").string()});
  EXPECT_EQ(read_bytes(dir.path / "a.png"), read_bytes(dir.path / "b.png")) << "same seed";
  EXPECT_NE(read_bytes(dir.path / "a.png"), read_bytes(dir.path / "c.png")) << "other seed";
  auto grid = read_image(dir.path / "a.png");
  EXPECT_EQ(grid.size(0), 3);
  EXPECT_EQ(grid.size(1), 2 * 16 + 3 * 2);  // 2×2 grid of 16-px images, 2-px padding

  sample({"--out-dir", (dir.path / "each").string(), "--sampler", "ddpm", "--steps", "4",
          "--weights", "raw", "--timestep-spacing", "trailing", "--batch-size", "3"});
  for (int i = 0; i < 4; ++i) {
    auto img = read_image(dir.path / "each" / fmt::format("{:05d}.png", i));
    EXPECT_EQ(img.sizes(), (std::vector<int64_t>{3, 16, 16}));
  }
  EXPECT_FALSE(fs::exists(dir.path / "each" / "00004.png"));
  // Every sampler runs from the command line and says what it ran and what it cost.
  const std::vector<std::pair<std::vector<std::string>, std::string>> samplers{
      {{"--sampler", "dpm-solver++", "--steps", "4", "--solver-order", "3"}, "(4 network"},
      {{"--sampler", "dpm-solver"}, "dpm-solver,"},
      {{"--sampler", "sde-dpm-solver++", "--steps", "3"}, "(3 network"},
      {{"--sampler", "unipc", "--steps", "4", "--solver-type", "bh1", "--no-corrector"},
       "corrector false"},
      {{"--sampler", "euler", "--steps", "3", "--karras-sigmas", "--s-churn", "1"}, "s_churn 1.0"},
      {{"--sampler", "euler-ancestral", "--steps", "3"}, "(3 network"},
      {{"--sampler", "heun", "--steps", "3"}, "(5 network"},
      {{"--sampler", "pndm", "--steps", "4"}, "(13 network"},
      {{"--sampler", "pndm", "--steps", "4", "--skip-prk-steps"}, "(5 network"},
  };
  for (const auto& [extra, expected] : samplers) {
    std::vector<std::string> args = extra;
    args.insert(args.end(), {"--out", (dir.path / "s.png").string()});
    auto r = sample(args);
    EXPECT_TRUE(contains(r.output, expected)) << expected << " in " << r.output;
  }
  // A checkpoint folder works as --model too, and DDIM η = 1 without clipping.
  auto from_checkpoint = run_ddpm({"sample", "--model", (run / "checkpoints/latest").string(),
                                   "--n", "2", "--eta", "1", "--no-clip", "--timestep-spacing",
                                   "quadratic", "--out", (dir.path / "d.png").string()});
  EXPECT_EQ(from_checkpoint.exit_code, 0) << from_checkpoint.output;
  EXPECT_TRUE(fs::is_regular_file(dir.path / "d.png"));

  // bf16 autocast on the CPU; fp16 and CUDA graphs are refused there with what to use instead.
  auto bf16 =
      sample({"--seed", "1", "--precision", "bf16", "--out", (dir.path / "e.png").string()});
  EXPECT_TRUE(contains(bf16.output, "network in bf16")) << bf16.output;
  EXPECT_TRUE(fs::is_regular_file(dir.path / "e.png"));
  auto fp16 = run_ddpm({"sample", "--model", run.string(), "--n", "2", "--device", "cpu",
                        "--precision", "fp16", "--out", (dir.path / "f.png").string()});
  EXPECT_NE(fp16.exit_code, 0);
  EXPECT_TRUE(contains(fp16.output, "use bf16 or fp32")) << fp16.output;
  auto graphs = run_ddpm({"sample", "--model", run.string(), "--n", "2", "--device", "cpu",
                          "--cuda-graphs", "--out", (dir.path / "g.png").string()});
  EXPECT_NE(graphs.exit_code, 0);
  EXPECT_TRUE(contains(graphs.output, "CUDA")) << graphs.output;
  EXPECT_FALSE(fs::exists(dir.path / "f.png"));
  EXPECT_FALSE(fs::exists(dir.path / "g.png"));
}

// --loss hybrid (improved DDPM's L_hybrid): the network gets 2·C outputs, DDPM sampling uses the
// learned variances (the run's config says so), every other sampler the prediction channels;
// bits/dim use Σ_θ. A model with the wrong number of outputs is refused before training.
TEST(Cli, HybridLossLearnsTheVariances) {
  test::TempDir dir;
  const auto images = image_folder(dir.path);
  const auto run = dir.path / "run";
  auto train =
      run_ddpm({"train", "--data", images.string(), "--image-size", "16", "--config",
                tiny_config(dir.path, 3).string(), "--out", run.string(), "--loss", "hybrid"});
  ASSERT_EQ(train.exit_code, 0) << train.output;
  auto config = nlohmann::json::parse(std::ifstream(run / "config.json"));
  EXPECT_EQ(config["training"]["loss"], "hybrid");
  EXPECT_EQ(config["model"]["out_channels"], 6);  // ε, then v, for 3 channels
  EXPECT_EQ(config["sampling"]["variance_type"], "learned_range");
  for (const std::string sampler : {"ddpm", "ddim", "dpm-solver++"}) {
    const auto out = dir.path / (sampler + ".png");
    auto r = run_ddpm({"sample", "--model", run.string(), "--n", "2", "--sampler", sampler,
                       "--steps", "3", "--out", out.string()});
    EXPECT_EQ(r.exit_code, 0) << sampler << ": " << r.output;
    EXPECT_EQ(read_image(out).size(0), 3) << sampler;
  }
  auto three = nlohmann::json::parse(std::ifstream(tiny_config(dir.path, 3)));
  three["model"]["out_channels"] = 3;
  std::ofstream(dir.path / "three.json") << three;
  auto bad = run_ddpm({"train", "--data", images.string(), "--image-size", "16", "--config",
                       (dir.path / "three.json").string(), "--out", (dir.path / "bad").string(),
                       "--loss", "hybrid"});
  EXPECT_NE(bad.exit_code, 0) << bad.output;
  EXPECT_TRUE(contains(bad.output, "out_channels = 6")) << bad.output;
}

// `ddpm bench` end to end at toy sizes: both sides run, the networks agree, ratios are printed
// and written, in fp32 and under bf16 autocast (the peer's autocast path included).
TEST(Cli, BenchRunsBothSidesAndPrintsRatios) {
  test::TempDir dir;
  for (const std::string precision : {"fp32", "bf16"}) {
    SCOPED_TRACE(precision);
    const auto json_path = dir.path / (precision + ".json");
    auto r = run_ddpm({"bench", "--presets", "fashion-mnist", "--repeats", "1", "--warmup", "0",
                       "--sample-steps", "1", "--train-batch", "2", "--sample-batch", "2",
                       "--threads", "1", "--precision", precision, "--json", json_path.string()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(contains(r.output, "device cpu, precision " + precision)) << r.output;
    EXPECT_TRUE(contains(r.output, "fashion-mnist  train")) << r.output;
    EXPECT_TRUE(contains(r.output, ") ok")) << "forward check\n" << r.output;
    auto j = nlohmann::json::parse(std::ifstream(json_path));
    EXPECT_EQ(j["precision"], precision);
    const auto& p = j["presets"].at(0);
    EXPECT_EQ(p["parameters"], 1706001);
    EXPECT_GT(p["ratio"]["train"].get<double>(), 0.0);
    EXPECT_GT(p["ratio"]["sample"].get<double>(), 0.0);
    EXPECT_GT(p["ours"]["train"]["peak_rss_mib"].get<double>(), 0.0);
  }
}

TEST(Cli, ResumeContinuesAndNeverOverwrites) {
  test::TempDir dir;
  const auto images = image_folder(dir.path).string();
  const auto run = dir.path / "run";
  const auto config = tiny_config(dir.path, 2).string();
  auto first = run_ddpm(
      {"train", "--data", images, "--image-size", "16", "--config", config, "--out", run.string()});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  auto again = run_ddpm(
      {"train", "--data", images, "--image-size", "16", "--config", config, "--out", run.string()});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_TRUE(contains(again.output, "--resume")) << again.output;
  auto more = run_ddpm({"train", "--out", run.string(), "--resume", "--steps", "5"});
  ASSERT_EQ(more.exit_code, 0) << more.output;
  EXPECT_TRUE(contains(more.output, "resumed")) << more.output;
  EXPECT_EQ(read_checkpoint(run / "checkpoints/latest").state.at("step"), 5);
}

// SIGKILL at random moments (mid-step, mid-checkpoint, mid-start-up): the latest checkpoint is
// always readable, never goes backwards, and the run resumes to completion.
TEST(Cli, CheckpointSurvivesSigkillAtAnyMoment) {
  test::TempDir dir;
  const auto images = image_folder(dir.path).string();
  const auto run = dir.path / "run";
  const auto config = tiny_config(dir.path, 100000, /*checkpoint_every=*/1).string();
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> delay_ms(300, 2500);
  int64_t last_step = 0;
  for (int kill = 0; kill < 6; ++kill) {
    std::vector<std::string> args{"train", "--out", run.string()};
    if (checkpoint_exists(run / "checkpoints/latest")) {
      args.push_back("--resume");
    } else {
      args.insert(args.end(), {"--data", images, "--image-size", "16", "--config", config});
    }
    const pid_t pid = test::spawn_ddpm(args);
    // Kill at a random moment of training, counted from when it starts (log.csv is opened), so
    // that a slow start (LibTorch's load under the sanitizers takes seconds) is not all it sees.
    for (int i = 0; i < 3000 && !fs::exists(run / "log.csv"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    ::kill(pid, SIGKILL);
    EXPECT_EQ(test::wait_for(pid), 128 + SIGKILL);
    if (!checkpoint_exists(run / "checkpoints/latest")) continue;  // killed before the first
    auto c = read_checkpoint(run / "checkpoints/latest");
    const int64_t step = c.state.at("step").get<int64_t>();
    EXPECT_GE(step, last_step) << "kill " << kill;
    EXPECT_EQ(c.model.size(), c.ema.size());
    last_step = step;
  }
  ASSERT_GT(last_step, 0) << "no checkpoint was ever written";
  auto finish = run_ddpm(
      {"train", "--out", run.string(), "--resume", "--steps", std::to_string(last_step + 2)});
  ASSERT_EQ(finish.exit_code, 0) << finish.output;
  EXPECT_EQ(read_checkpoint(run / "checkpoints/latest").state.at("step"), last_step + 2);
}

TEST(Cli, CtrlCCheckpointsAndSaysHowToResume) {
  test::TempDir dir;
  const auto images = image_folder(dir.path).string();
  const auto run = dir.path / "run";
  const auto config = tiny_config(dir.path, 100000, /*checkpoint_every=*/1000).string();
  const pid_t pid = test::spawn_ddpm(
      {"train", "--data", images, "--image-size", "16", "--config", config, "--out", run.string()});
  // Wait until training has started (log.csv has rows), then interrupt.
  for (int i = 0; i < 300 && read_bytes(run / "log.csv").find("\n1,") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(pid, SIGINT);
  EXPECT_EQ(test::wait_for(pid), 130);
  auto c = read_checkpoint(run / "checkpoints/latest");
  EXPECT_GT(c.state.at("step").get<int64_t>(), 0);
}

}  // namespace
}  // namespace ddpm

// Faults during a `ddpm train` run, end to end (issue 13): a diverging run stops with an error
// and keeps its last finite checkpoint; SIGINT/SIGTERM checkpoint the step in hand and exit
// 130/143, a second signal exits at once, and --resume continues exactly; a second trainer on a
// busy folder is refused naming the holder's PID while a dead holder's lock blocks nobody; a
// write that fails (EFBIG under RLIMIT_FSIZE) is a clear error that keeps the previous checkpoint
// and leaves no temporaries.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <thread>

#include "cli_runner.h"
#include "file_size_limit.h"
#include "io/image.h"
#include "runs/checkpoint.h"
#include "test_util.h"
#include "training/non_finite.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::read_bytes;
using test::run_ddpm;

// 24 random 16×16 RGB PNGs.
std::string image_folder(const fs::path& root) {
  torch::manual_seed(1);
  const fs::path dir = root / "images";
  fs::create_directories(dir);
  for (int i = 0; i < 24; ++i)
    write_png(dir / fmt::format("img{:02d}.png", i),
              torch::randint(0, 256, {3, 16, 16}, torch::kUInt8));
  return dir.string();
}

// The tiny model of test_cli.cpp, one thread (bit-reproducible), a row of log.csv every step.
std::string tiny_config(const fs::path& root, int64_t steps, int64_t checkpoint_every) {
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
  return path.string();
}

/// A fresh run's arguments.
std::vector<std::string> train_args(const std::string& images, const std::string& config,
                                    const fs::path& run) {
  return {"train",    "--data", images,  "--image-size", "16",
          "--config", config,   "--out", run.string()};
}

void wait_for_step(const fs::path& run, int64_t step) {
  ASSERT_TRUE(test::wait_for_log_row(run, step)) << "training never reached " << step;
}

int64_t latest_step(const fs::path& run) {
  return read_checkpoint(run / "checkpoints/latest").state.at("step").get<int64_t>();
}

::testing::AssertionResult same_tensors(const TensorMap& a, const TensorMap& b) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << a.size() << " vs " << b.size() << " tensors";
  for (const auto& [name, t] : a)
    if (!b.count(name) || !torch::equal(t, b.at(name)))
      return ::testing::AssertionFailure() << name << " differs";
  return ::testing::AssertionSuccess();
}

// The issue's reproducer, `--lr 1e4 --grad-clip 0`, which used to exit 0 with NaN weights in
// checkpoints/latest: now an error naming the step and tensor, and latest is finite.
TEST(CliFaults, ADivergingRunStopsAndKeepsTheLastFiniteCheckpoint) {
  test::TempDir dir;
  const auto run = dir.path / "run";
  auto args = train_args(image_folder(dir.path), tiny_config(dir.path, 300, 5), run);
  args.insert(args.end(), {"--lr", "1e4", "--grad-clip", "0", "--max-bad-steps", "3"});
  const auto r = run_ddpm(args);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "error: training diverged at step")) << r.output;
  EXPECT_TRUE(contains(r.output, "3 consecutive steps")) << r.output;
  EXPECT_TRUE(contains(r.output, "warning: step")) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      r.output, m, std::regex(R"(the first non-finite tensor, at step (\d+): ([^.]+))")))
      << r.output;
  const int64_t first_bad = std::stoll(m[1]);
  const std::string tensor = m[2];
  EXPECT_TRUE(tensor == "loss" || contains(tensor, "the gradient of ")) << tensor;
  ASSERT_TRUE(checkpoint_exists(run / "checkpoints/latest")) << r.output;
  const auto latest = read_checkpoint(run / "checkpoints/latest");
  const int64_t step = latest.state.at("step").get<int64_t>();
  EXPECT_LT(step, first_bad + 3);
  EXPECT_TRUE(contains(r.output, fmt::format("checkpoints/latest holds step {}", step)));
  for (const auto* part : {&latest.model, &latest.ema, &latest.optimizer})
    EXPECT_EQ(first_non_finite(*part), std::nullopt);
  EXPECT_FALSE(contains(r.output, "done:")) << r.output;
}

// SIGTERM: the step in hand finishes and is checkpointed, exit 143; --resume from there gives
// bit for bit the weights, EMA and AdamW state of a run that was never stopped.
TEST(CliFaults, SigtermCheckpointsTheStepInHandAndResumeContinuesExactly) {
  test::TempDir dir;
  const auto images = image_folder(dir.path);
  const auto config = tiny_config(dir.path, 100000, 1000);
  const auto stopped = dir.path / "stopped", straight = dir.path / "straight";
  const pid_t pid = test::spawn_ddpm(train_args(images, config, stopped));
  wait_for_step(stopped, 2);
  ::kill(pid, SIGTERM);
  EXPECT_EQ(test::wait_for(pid), 143);
  const int64_t k = latest_step(stopped);
  EXPECT_GE(k, 2);
  // The checkpoint is at the last step that ran: log.csv's last row.
  const auto log = read_bytes(stopped / "log.csv");
  EXPECT_TRUE(contains(log, "\n" + std::to_string(k) + ","));
  EXPECT_FALSE(contains(log, "\n" + std::to_string(k + 1) + ","));

  const std::string total = std::to_string(k + 2);
  const auto resumed = run_ddpm({"train", "--out", stopped.string(), "--resume", "--steps", total});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  auto args = train_args(images, config, straight);
  args.insert(args.end(), {"--steps", total});
  const auto whole = run_ddpm(args);
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const auto a = read_checkpoint(stopped / "checkpoints/latest");
  const auto b = read_checkpoint(straight / "checkpoints/latest");
  EXPECT_EQ(a.state.at("step"), k + 2);
  EXPECT_TRUE(same_tensors(a.model, b.model)) << "weights";
  EXPECT_TRUE(same_tensors(a.ema, b.ema)) << "EMA";
  EXPECT_TRUE(same_tensors(a.optimizer, b.optimizer)) << "AdamW state";
}

// SIGINT exits 130; a second signal while the first is being honoured exits at once with its own
// status (SIGTERM then SIGINT: 130, where a graceful SIGTERM stop is 143).
TEST(CliFaults, SigintExits130AndASecondSignalExitsAtOnce) {
  test::TempDir dir;
  const auto images = image_folder(dir.path);
  const auto config = tiny_config(dir.path, 100000, 1000);
  const auto run = dir.path / "run";
  pid_t pid = test::spawn_ddpm(train_args(images, config, run));
  wait_for_step(run, 1);
  ::kill(pid, SIGINT);
  EXPECT_EQ(test::wait_for(pid), 130);
  const int64_t k = latest_step(run);
  EXPECT_GE(k, 1);

  pid = test::spawn_ddpm({"train", "--out", run.string(), "--resume"});
  wait_for_step(run, k + 1);
  ::kill(pid, SIGTERM);
  ::kill(pid, SIGINT);
  EXPECT_EQ(test::wait_for(pid), 130);
  EXPECT_EQ(latest_step(run), k) << "the second signal left before checkpointing";
}

// One trainer per folder: a second one (resuming, or starting afresh) is refused naming the
// holder's PID; once the holder is SIGKILLed its lock no longer blocks.
TEST(CliFaults, ABusyRunFolderIsRefusedNamingTheHolder) {
  test::TempDir dir;
  const auto images = image_folder(dir.path);
  const auto config = tiny_config(dir.path, 100000, 1);
  const auto run = dir.path / "run";
  const pid_t pid = test::spawn_ddpm(train_args(images, config, run));
  wait_for_step(run, 2);
  for (const auto& args : {std::vector<std::string>{"train", "--out", run.string(), "--resume"},
                           train_args(images, config, run)}) {
    const auto r = run_ddpm(args);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_TRUE(contains(r.output, "error: " + run.string() + " is in use")) << r.output;
    EXPECT_TRUE(contains(r.output, "pid " + std::to_string(pid))) << r.output;
  }
  ::kill(pid, SIGKILL);
  EXPECT_EQ(test::wait_for(pid), 128 + SIGKILL);
  EXPECT_TRUE(contains(read_bytes(run / ".lock"), std::to_string(pid))) << "a stale lock file";
  const int64_t k = latest_step(run);
  const auto r =
      run_ddpm({"train", "--out", run.string(), "--resume", "--steps", std::to_string(k + 1)});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(latest_step(run), k + 1);
}

// EFBIG while writing a checkpoint (RLIMIT_FSIZE below the model file's size, above config.json
// and log.csv): `error:` naming the file and the OS error, exit 1, the previous checkpoint intact
// and loadable, no temporary folder or file left.
TEST(CliFaults, AFailedCheckpointWriteIsAnErrorThatKeepsThePrevious) {
  test::TempDir dir;
  const auto run = dir.path / "run";
  const auto first = run_ddpm(train_args(image_folder(dir.path), tiny_config(dir.path, 2, 2), run));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const auto before = read_checkpoint(run / "checkpoints/latest");
  const auto limit = 2 * fs::file_size(run / "config.json");
  ASSERT_LT(limit, fs::file_size(run / "checkpoints/latest/model.safetensors"));
  test::CliResult r;
  {
    test::FileSizeLimit cap(limit);
    r = run_ddpm({"train", "--out", run.string(), "--resume", "--steps", "4"});
  }
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "error: ")) << r.output;
  EXPECT_TRUE(contains(r.output, "model.safetensors")) << r.output;
  EXPECT_TRUE(contains(r.output, std::strerror(EFBIG))) << r.output;
  const auto after = read_checkpoint(run / "checkpoints/latest");
  EXPECT_EQ(after.state, before.state);
  EXPECT_TRUE(same_tensors(after.model, before.model));
  EXPECT_EQ(test::temporaries_under(run), std::vector<std::string>{});
  // And the run resumes from it once there is room.
  const auto again = run_ddpm({"train", "--out", run.string(), "--resume", "--steps", "4"});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(latest_step(run), 4);
}

// The same for an image that `ddpm sample` cannot write: an error, and no file at the output
// path, whole or partial.
TEST(CliFaults, AFailedSampleWriteLeavesNoFile) {
  test::TempDir dir;
  const auto run = dir.path / "run";
  ASSERT_EQ(
      run_ddpm(train_args(image_folder(dir.path), tiny_config(dir.path, 1, 1), run)).exit_code, 0);
  const auto out = dir.path / "out" / "grid.png";
  fs::create_directories(out.parent_path());
  test::CliResult r;
  {
    test::FileSizeLimit cap(64);
    r = run_ddpm(
        {"sample", "--model", run.string(), "--n", "4", "--steps", "2", "--out", out.string()});
  }
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "error: ")) << r.output;
  EXPECT_TRUE(contains(r.output, std::strerror(EFBIG))) << r.output;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(fs::is_empty(out.parent_path())) << "a temporary was left";
}

}  // namespace
}  // namespace ddpm

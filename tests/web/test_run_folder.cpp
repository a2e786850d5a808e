// Reading a run folder while a trainer writes it: complete log lines only, sparse eval columns,
// finding runs in folders of runs, and the state (running by the flock, finished, failed, ETA).
#include "web/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cmath>
#include <fstream>

#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

void make_run(const fs::path& run, int64_t steps, const std::string& log) {
  fs::create_directories(run / "samples");
  std::ofstream(run / "config.json") << nlohmann::json{{"training", {{"steps", steps}}}}.dump();
  std::ofstream(run / "log.csv") << log;
}

const char* kLog =
    "step,loss,lr,grad_norm,images_per_s,seconds,eval_kid\n"
    "10,0.5,0.001,1.5,100,1.0,\n"
    "20,0.4,0.001,1.2,110,2.0,0.25\n"
    "30,0.3,0.001,1.1,120,3.0,\n";

TEST(RunFolder, ReadsCompleteLinesOnlyWithSparseEvalColumns) {
  test::TempDir dir;
  make_run(dir.path, 100, std::string(kLog) + "40,0.2");  // a row being appended
  const auto table = read_log_table(dir.path / "log.csv");
  ASSERT_EQ(table.columns.size(), 7u);
  EXPECT_EQ(table.columns.back(), "eval_kid");
  ASSERT_EQ(table.rows.size(), 3u) << "the half-written row is not read";
  EXPECT_EQ(table.complete_rows, 3);
  EXPECT_EQ(table.rows[1][0], 20);
  EXPECT_DOUBLE_EQ(table.rows[1][6], 0.25);
  EXPECT_TRUE(std::isnan(table.rows[0][6]));
  const auto tail = read_log_table(dir.path / "log.csv", 2);
  ASSERT_EQ(tail.rows.size(), 1u);
  EXPECT_EQ(tail.rows[0][0], 30);
  EXPECT_EQ(tail.complete_rows, 3);
  EXPECT_TRUE(read_log_table(dir.path / "missing.csv").columns.empty());
}

TEST(RunFolder, FindsRunsAndFoldersOfRuns) {
  test::TempDir dir;
  make_run(dir.path / "study" / "bk", 10, kLog);
  make_run(dir.path / "study" / "bbno", 10, kLog);
  fs::create_directories(dir.path / "study" / "figures");
  make_run(dir.path / "single", 10, kLog);
  const auto runs =
      find_run_folders({dir.path / "single", dir.path / "study", dir.path / "single"});
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].filename(), "single");
  EXPECT_EQ(runs[1].filename(), "bbno");  // sorted within a folder of runs
  EXPECT_EQ(runs[2].filename(), "bk");
  fs::create_directories(dir.path / "empty");
  try {
    find_run_folders({dir.path / "empty"});
    FAIL() << "a folder without runs";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("neither a run folder"), std::string::npos) << e.what();
  }
  EXPECT_THROW(find_run_folders({dir.path / "nowhere"}), std::invalid_argument);
}

TEST(RunFolder, StateComesFromTheLockAndTheLog) {
  test::TempDir dir;
  make_run(dir.path, 100, kLog);
  auto state = read_run_state(dir.path, read_log_table(dir.path / "log.csv"));
  EXPECT_EQ(state.status, "failed") << "stopped at step 30 of 100, nobody training";
  EXPECT_EQ(state.step, 30);
  EXPECT_EQ(state.total_steps, 100);
  EXPECT_TRUE(std::isnan(state.eta_seconds));
  EXPECT_DOUBLE_EQ(state.images_per_second, 120);

  // A trainer holds the flock (training/run_lock.h does exactly this).
  const int fd = open((dir.path / ".lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
  EXPECT_TRUE(run_lock_held(dir.path));
  state = read_run_state(dir.path, read_log_table(dir.path / "log.csv"));
  EXPECT_EQ(state.status, "running");
  // 0.1 s per step over the last rows, 70 steps to go.
  EXPECT_NEAR(state.eta_seconds, 7.0, 1e-9);
  flock(fd, LOCK_UN);
  close(fd);
  EXPECT_FALSE(run_lock_held(dir.path)) << "a stale lock file blocks nobody";

  make_run(dir.path, 30, kLog);
  EXPECT_EQ(read_run_state(dir.path, read_log_table(dir.path / "log.csv")).status, "finished");
}

TEST(RunFolder, OverviewListsGridsByStep) {
  test::TempDir dir;
  make_run(dir.path, 100, kLog);
  for (const char* name :
       {"step_000020.png", "step_000010.png", ".step_000030.png.tmp", "final-ddim50.png"})
    std::ofstream(dir.path / "samples" / name) << "x";
  const auto overview = run_overview(dir.path, "a");
  EXPECT_EQ(overview["name"], "a");
  ASSERT_EQ(overview["grids"].size(), 2u);
  EXPECT_EQ(overview["grids"][0]["step"], 10);
  EXPECT_EQ(overview["grids"][1]["file"], "samples/step_000020.png");
  EXPECT_EQ(overview["rows"], 3);
  EXPECT_EQ(overview["state"]["status"], "failed");
  EXPECT_EQ(overview["config"]["training"]["steps"], 100);
}

}  // namespace
}  // namespace ddpm

// What `ddpm serve` reads from a run folder while `ddpm train` writes it, without the trainer's
// help: log.csv up to its last complete line (a row being appended is never shown half), the
// resolved config.json, the sample grids samples/step_NNNNNN.png, and the run's state:
//
//   running   another process holds the run's flock on RUN/.lock (training/run_lock.h), read
//             from /proc/locks, which takes no lock itself;
//   finished  not running, and the log reached the configured number of steps;
//   failed    not running and short of it (stopped, killed or diverged: resume with --resume).
//
//   auto runs = find_run_folders({"runs/"});       // a run folder, or a folder of runs
//   auto log = read_log_table(runs[0] / "log.csv", 0);
//   auto state = read_run_state(runs[0], log);
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace ddpm {

/// A folder is a run when it holds config.json and log.csv (what `ddpm train` and
/// `ddpm train-autoencoder` write first).
bool is_run_folder(const std::filesystem::path& dir);

/// Each argument that is a run folder, and the run folders directly inside each one that is not
/// (a folder of runs, e.g. a study), in that order, without duplicates. Throws
/// std::invalid_argument naming an argument that is neither.
std::vector<std::filesystem::path> find_run_folders(const std::vector<std::filesystem::path>& args);

/// The rows of a log.csv: its header's columns, and every complete line from row `from_row` on
/// (0-based, not counting the header). Empty fields (an eval column between evaluations) are
/// NaN. A missing file is an empty table; a line that does not end in a newline is not read.
struct LogTable {
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;
  int64_t complete_rows = 0;  ///< every complete row in the file, from row 0
};
LogTable read_log_table(const std::filesystem::path& csv, int64_t from_row = 0);

/// True when a live process holds the flock on RUN/.lock.
bool run_lock_held(const std::filesystem::path& run);

struct RunState {
  std::string status;       ///< "running", "finished" or "failed"
  int64_t step = 0;         ///< the log's last step
  int64_t total_steps = 0;  ///< config.json's training.steps (0: given in epochs, not known)
  /// Seconds to go while running: the remaining steps at the pace of the last ten log rows
  /// (training time; grids and checkpoints come on top). NaN when not known.
  double eta_seconds = std::numeric_limits<double>::quiet_NaN();
  double images_per_second = std::numeric_limits<double>::quiet_NaN();  ///< the last row's
};
RunState read_run_state(const std::filesystem::path& run, const LogTable& log);

/// The sample grids of a run (samples/step_NNNNNN.png), by step.
struct GridFile {
  int64_t step;
  std::string file;  ///< relative to the run, "samples/step_000100.png"
};
std::vector<GridFile> list_grids(const std::filesystem::path& run);

/// One run for the page: {"name", "path", "state": {...}, "config": config.json, "grids":
/// [{"step", "file"}], "columns": [...], "rows": complete rows}.
nlohmann::json run_overview(const std::filesystem::path& run, const std::string& name);

}  // namespace ddpm

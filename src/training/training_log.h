// log.csv of a run: a header row, then one row per logged step. Appends across resumes; on
// resume, rows past the checkpoint's step (written after it, then lost to a kill) are dropped so
// that every step appears once.
#pragma once
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ddpm {

class TrainingLog {
 public:
  static constexpr const char* kHeader = "step,loss,lr,grad_norm,images_per_s,seconds";

  /// Opens `path` for appending, creating it with the header, keeping rows with step <= keep_up_to.
  TrainingLog(const std::filesystem::path& path, int64_t keep_up_to);

  void append(int64_t step, double loss, double lr, double grad_norm, double images_per_s,
              double seconds);

 private:
  std::ofstream out_;
};

struct LogRow {
  int64_t step;
  double loss;
};
/// The (step, loss) pairs of a log.csv, for plots and tests.
std::vector<LogRow> read_training_log(const std::filesystem::path& path);

}  // namespace ddpm

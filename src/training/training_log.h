// log.csv of a run: a header row, then one row per logged step. Appends across resumes; on
// resume, rows past the checkpoint's step (written after it, then lost to a kill) are dropped so
// that every step appears once. Rows are appended with write(2) on an O_APPEND descriptor; a
// failed write (ENOSPC, EFBIG, EIO) cuts off the torn part of its row and throws naming the file
// and the OS error.
#pragma once
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace ddpm {

class TrainingLog {
 public:
  static constexpr const char* kHeader = "step,loss,lr,grad_norm,images_per_s,seconds";

  /// Opens `path` for appending, creating it with the header, keeping rows with step <= keep_up_to.
  /// A non-empty `eval_column` (e.g. "eval_kid") adds a last column for the validation metric.
  TrainingLog(const std::filesystem::path& path, int64_t keep_up_to,
              const std::string& eval_column = "");
  ~TrainingLog();
  TrainingLog(const TrainingLog&) = delete;
  TrainingLog& operator=(const TrainingLog&) = delete;

  /// `eval` (NaN: not evaluated at this step, written as an empty field) fills the eval column.
  /// Throws std::runtime_error when the row cannot be written whole.
  void append(int64_t step, double loss, double lr, double grad_norm, double images_per_s,
              double seconds, double eval = std::numeric_limits<double>::quiet_NaN());

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool eval_column_ = false;
};

struct LogRow {
  int64_t step;
  double loss;
};
/// The (step, loss) pairs of a log.csv, for plots and tests.
std::vector<LogRow> read_training_log(const std::filesystem::path& path);

}  // namespace ddpm

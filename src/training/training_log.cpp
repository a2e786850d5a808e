#include "training/training_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "io/atomic_file.h"

namespace ddpm {

namespace {

int64_t row_step(const std::string& line) {
  return std::stoll(line.substr(0, line.find(',')));
}

}  // namespace

TrainingLog::TrainingLog(const std::filesystem::path& path, int64_t keep_up_to,
                         const std::string& eval_column)
    : path_(path), eval_column_(!eval_column.empty()) {
  std::string kept = std::string(kHeader) + (eval_column_ ? "," + eval_column : "") + "\n";
  if (std::filesystem::exists(path)) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line))
      if (!line.empty() && row_step(line) <= keep_up_to) kept += line + "\n";
  }
  write_file_atomic(path, kept);
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0)
    throw std::runtime_error(path.string() +
                             ": cannot open for appending: " + std::strerror(errno));
}

TrainingLog::~TrainingLog() {
  if (fd_ >= 0) ::close(fd_);
}

void TrainingLog::append(int64_t step, double loss, double lr, double grad_norm,
                         double images_per_s, double seconds, double eval) {
  std::ostringstream row;
  row << step << ',' << loss << ',' << lr << ',' << grad_norm << ',' << images_per_s << ','
      << seconds;
  if (eval_column_) {
    row << ',';
    if (!std::isnan(eval)) row << eval;
  }
  row << '\n';
  const std::string text = row.str();
  // Where the row starts, to cut a torn row off again if the disk fills mid-row.
  const off_t start = ::lseek(fd_, 0, SEEK_END);
  for (size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n >= 0) {
      done += size_t(n);
      continue;
    }
    if (errno == EINTR) continue;
    const int err = errno;
    if (start >= 0) (void)!::ftruncate(fd_, start);
    throw std::runtime_error(path_.string() + ": cannot append the row of step " +
                             std::to_string(step) + ": " + std::strerror(err));
  }
}

std::vector<LogRow> read_training_log(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot read the training log");
  std::string line;
  std::getline(in, line);
  if (line.rfind("step,loss", 0) != 0)
    throw std::runtime_error(path.string() + ": not a training log (header is '" + line + "')");
  std::vector<LogRow> rows;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string step, loss;
    std::getline(fields, step, ',');
    std::getline(fields, loss, ',');
    rows.push_back({std::stoll(step), std::stod(loss)});
  }
  return rows;
}

}  // namespace ddpm

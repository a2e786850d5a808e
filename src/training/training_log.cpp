#include "training/training_log.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "io/atomic_file.h"

namespace ddpm {

namespace {

int64_t row_step(const std::string& line) { return std::stoll(line.substr(0, line.find(','))); }

}  // namespace

TrainingLog::TrainingLog(const std::filesystem::path& path, int64_t keep_up_to,
                         const std::string& eval_column)
    : eval_column_(!eval_column.empty()) {
  std::string kept = std::string(kHeader) + (eval_column_ ? "," + eval_column : "") + "\n";
  if (std::filesystem::exists(path)) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line))
      if (!line.empty() && row_step(line) <= keep_up_to) kept += line + "\n";
  }
  write_file_atomic(path, kept);
  out_.open(path, std::ios::app);
  if (!out_) throw std::runtime_error(path.string() + ": cannot open for appending");
}

void TrainingLog::append(int64_t step, double loss, double lr, double grad_norm,
                         double images_per_s, double seconds, double eval) {
  out_ << step << ',' << loss << ',' << lr << ',' << grad_norm << ',' << images_per_s << ','
       << seconds;
  if (eval_column_) {
    out_ << ',';
    if (!std::isnan(eval)) out_ << eval;
  }
  out_ << '\n';
  out_.flush();
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

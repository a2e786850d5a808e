#include "web/run_folder.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

namespace ddpm {

namespace fs = std::filesystem;

bool is_run_folder(const fs::path& dir) {
  std::error_code error;
  return fs::is_regular_file(dir / "config.json", error) &&
         fs::is_regular_file(dir / "log.csv", error);
}

std::vector<fs::path> find_run_folders(const std::vector<fs::path>& args) {
  std::vector<fs::path> runs;
  std::set<fs::path> seen;
  auto add = [&](const fs::path& run) {
    std::error_code error;
    const auto key = fs::weakly_canonical(run, error);
    if (seen.insert(error ? run : key).second) runs.push_back(run);
  };
  for (const auto& arg : args) {
    if (!fs::is_directory(arg))
      throw std::invalid_argument(arg.string() +
                                  ": no such folder (give run folders, or a folder "
                                  "of them)");
    if (is_run_folder(arg)) {
      add(arg);
      continue;
    }
    std::vector<fs::path> inside;
    for (const auto& entry : fs::directory_iterator(arg))
      if (entry.is_directory() && is_run_folder(entry.path())) inside.push_back(entry.path());
    if (inside.empty())
      throw std::invalid_argument(arg.string() +
                                  ": neither a run folder (config.json and log.csv, as ddpm train "
                                  "writes) nor a folder of run folders");
    std::sort(inside.begin(), inside.end());
    for (const auto& run : inside) add(run);
  }
  return runs;
}

namespace {

std::vector<std::string> split_commas(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ',')) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

double parse_field(const std::string& field) {
  if (field.empty()) return std::numeric_limits<double>::quiet_NaN();
  try {
    size_t used = 0;
    const double v = std::stod(field, &used);
    return used == field.size() ? v : std::numeric_limits<double>::quiet_NaN();
  } catch (const std::exception&) {  // "nan", "inf" parse; anything else is not a number
    return std::numeric_limits<double>::quiet_NaN();
  }
}

}  // namespace

LogTable read_log_table(const fs::path& csv, int64_t from_row) {
  LogTable table;
  std::ifstream in(csv, std::ios::binary);
  if (!in) return table;
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  // Only what ends in a newline: the trainer may be in the middle of appending the last row.
  const auto end = bytes.rfind('\n');
  if (end == std::string::npos) return table;
  bytes.resize(end + 1);
  std::istringstream lines(bytes);
  std::string line;
  if (!std::getline(lines, line)) return table;
  table.columns = split_commas(line);
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    if (table.complete_rows++ < from_row) continue;
    auto fields = split_commas(line);
    std::vector<double> row(table.columns.size(), std::numeric_limits<double>::quiet_NaN());
    for (size_t i = 0; i < std::min(fields.size(), row.size()); ++i)
      row[i] = parse_field(fields[i]);
    table.rows.push_back(std::move(row));
  }
  return table;
}

bool run_lock_held(const fs::path& run) {
  // /proc/locks: "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF", device in hex major:minor.
  struct stat lock_stat {};
  if (stat((run / ".lock").c_str(), &lock_stat) != 0) return false;
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream fields(line);
    std::string ordinal, kind, mode, access, pid, id;
    fields >> ordinal >> kind;
    if (kind == "->") fields >> kind;  // a waiter on a lock: "1: -> FLOCK ..."
    fields >> mode >> access >> pid >> id;
    if (kind != "FLOCK") continue;
    unsigned major_number = 0, minor_number = 0;
    unsigned long long inode = 0;
    if (std::sscanf(id.c_str(), "%x:%x:%llu", &major_number, &minor_number, &inode) != 3) continue;
    if (inode == lock_stat.st_ino && major_number == major(lock_stat.st_dev) &&
        minor_number == minor(lock_stat.st_dev))
      return true;
  }
  return false;
}

RunState read_run_state(const fs::path& run, const LogTable& log) {
  RunState state;
  std::ifstream config_file(run / "config.json");
  const auto config = nlohmann::json::parse(config_file, nullptr, /*allow_exceptions=*/false);
  if (config.is_object() && config.contains("training") && config["training"].is_object())
    state.total_steps = config["training"].value("steps", int64_t(0));
  const auto column = [&](const std::string& name) -> int {
    const auto it = std::find(log.columns.begin(), log.columns.end(), name);
    return it == log.columns.end() ? -1 : int(it - log.columns.begin());
  };
  const int step_column = column("step"), seconds_column = column("seconds"),
            rate_column = column("images_per_s");
  if (!log.rows.empty() && step_column >= 0) {
    const auto& last = log.rows.back();
    state.step = int64_t(last[size_t(step_column)]);
    if (rate_column >= 0) state.images_per_second = last[size_t(rate_column)];
  }
  const bool running = run_lock_held(run);
  if (running)
    state.status = "running";
  else
    state.status = state.total_steps > 0 && state.step >= state.total_steps ? "finished" : "failed";
  if (running && state.total_steps > 0 && step_column >= 0 && seconds_column >= 0 &&
      log.rows.size() >= 2) {
    const auto& last = log.rows.back();
    const auto& earlier = log.rows[log.rows.size() - std::min<size_t>(log.rows.size(), 11)];
    const double steps = last[size_t(step_column)] - earlier[size_t(step_column)];
    const double seconds = last[size_t(seconds_column)] - earlier[size_t(seconds_column)];
    if (steps > 0 && seconds >= 0)
      state.eta_seconds =
          seconds / steps * double(std::max<int64_t>(0, state.total_steps - state.step));
  }
  return state;
}

std::vector<GridFile> list_grids(const fs::path& run) {
  static const std::regex name("step_([0-9]+)\\.png");
  std::vector<GridFile> grids;
  std::error_code error;
  for (fs::directory_iterator it(run / "samples", error), end; !error && it != end;
       it.increment(error)) {
    std::smatch match;
    const std::string file = it->path().filename().string();
    if (std::regex_match(file, match, name) && it->is_regular_file())
      grids.push_back({std::stoll(match[1]), "samples/" + file});
  }
  std::sort(grids.begin(), grids.end(),
            [](const GridFile& a, const GridFile& b) { return a.step < b.step; });
  return grids;
}

namespace {

nlohmann::json finite_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nullptr;
}

}  // namespace

nlohmann::json run_overview(const fs::path& run, const std::string& name) {
  const auto full = read_log_table(run / "log.csv");
  const auto state = read_run_state(run, full);
  std::ifstream config_file(run / "config.json");
  auto config = nlohmann::json::parse(config_file, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) config = nullptr;  // being rewritten: the page keeps the last one
  nlohmann::json grids = nlohmann::json::array();
  for (const auto& g : list_grids(run)) grids.push_back({{"step", g.step}, {"file", g.file}});
  return {{"name", name},
          {"path", run.string()},
          {"state",
           {{"status", state.status},
            {"step", state.step},
            {"total_steps", state.total_steps},
            {"eta_seconds", finite_or_null(state.eta_seconds)},
            {"images_per_second", finite_or_null(state.images_per_second)}}},
          {"config", config},
          {"grids", grids},
          {"columns", full.columns},
          {"rows", full.complete_rows}};
}

}  // namespace ddpm

#include "runs/conv3x3_tuning_file.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "io/atomic_file.h"
#include "models/kernels/winograd_conv_kernel.h"

namespace ddpm {

namespace fs = std::filesystem;

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto name = line.substr(colon + 1);
        name.erase(0, name.find_first_not_of(' '));
        return name;
      }
    }
  return "unknown CPU";
}

const char* isa_name(kernels::WinogradIsa isa) {
  switch (isa) {
    case kernels::WinogradIsa::avx512:
      return "avx512";
    case kernels::WinogradIsa::avx2:
      return "avx2";
    case kernels::WinogradIsa::baseline:
      break;
  }
  return "baseline";
}

/// The file's content, or an empty {"machines": {}} when it is missing or not what it should be.
nlohmann::json read_tuning(const fs::path& file) {
  std::ifstream in(file);
  auto j = in ? nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false)
              : nlohmann::json::object();
  if (!j.is_object() || !j.contains("machines") || !j["machines"].is_object())
    j = {{"machines", nlohmann::json::object()}};
  return j;
}

/// An exclusive advisory lock (flock) on `path`, created if missing, held for the object's life:
/// the read-modify-write of the tuning file by several processes, one at a time.
class FileLock {
 public:
  explicit FileLock(const fs::path& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT, 0644)) {
    if (fd_ < 0)
      throw std::runtime_error(
          fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
    while (::flock(fd_, LOCK_EX) != 0)
      if (errno != EINTR) {
        const int error = errno;
        ::close(fd_);
        throw std::runtime_error(
            fmt::format("cannot lock {}: {}", path.string(), std::strerror(error)));
      }
  }
  ~FileLock() { ::close(fd_); }  // closing releases the lock
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

/// The decision for `shape` in this machine's part of the file's content, if any: nothing for a
/// name this version does not know.
std::optional<Conv3x3Algorithm> decision_in(const nlohmann::json& j, const std::string& shape) {
  const auto& machines = j["machines"];
  const auto machine = machines.find(conv3x3_tuning_machine());
  if (machine == machines.end() || !machine->is_object()) return std::nullopt;
  const auto it = machine->find(shape);
  if (it == machine->end() || !it->is_string()) return std::nullopt;
  try {
    return parse_enum<Conv3x3Algorithm>(it->get<std::string>());
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
}

}  // namespace

fs::path default_conv3x3_tuning_file() {
  constexpr const char* kName = "conv3x3-tuning.json";
  if (const char* dir = std::getenv("DDPM_CACHE_DIR"); dir && *dir) return fs::path(dir) / kName;
  if (const char* dir = std::getenv("XDG_CACHE_HOME"); dir && *dir)
    return fs::path(dir) / "ddpm" / kName;
  if (const char* home = std::getenv("HOME"); home && *home)
    return fs::path(home) / ".cache" / "ddpm" / kName;
  return {};
}

std::string conv3x3_tuning_machine() {
  static const std::string cpu = cpu_model();
  return fmt::format("{} | {} | kernels {} | {} threads", cpu, isa_name(kernels::winograd_isa()),
                     kConv3x3KernelRevision, at::get_num_threads());
}

Conv3x3TuningFile::Conv3x3TuningFile(fs::path file) : file_(std::move(file)) {}

std::optional<Conv3x3Algorithm> Conv3x3TuningFile::find(const std::string& shape) {
  std::lock_guard<std::mutex> lock(mutex_);
  return decision_in(read_tuning(file_), shape);  // nothing: measure
}

Conv3x3Algorithm Conv3x3TuningFile::record(const std::string& shape, Conv3x3Algorithm algorithm) {
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    fs::create_directories(file_.parent_path());
    const FileLock file_lock(fs::path(file_) += ".lock");
    auto j = read_tuning(file_);                       // what other processes wrote meanwhile stays
    if (const auto earlier = decision_in(j, shape)) {  // decided meanwhile
      write_failed_ = false;
      return *earlier;
    }
    auto& machine = j["machines"][conv3x3_tuning_machine()];
    if (!machine.is_object()) machine = nlohmann::json::object();
    machine[shape] = to_string(algorithm);  // (also over a name this version does not know)
    write_file_atomic(file_, j.dump(1) + "\n");
    write_failed_ = false;
  } catch (const std::exception&) {
    write_failed_ = true;  // a cache: the decision still holds in this process
  }
  return algorithm;
}

}  // namespace ddpm

// Injecting write failures without root: RLIMIT_FSIZE caps the size any file of this process (and
// of the children it starts) may grow to, and with SIGXFSZ ignored a write past the cap fails with
// EFBIG instead of killing the process (setrlimit(2), "RLIMIT_FSIZE").
#pragma once
#include <signal.h>
#include <sys/resource.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ddpm::test {

/// For its lifetime, files written by this process (and children forked meanwhile) cannot
/// grow past `max_bytes`; the previous limit and SIGXFSZ disposition come back afterwards.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(uint64_t max_bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    rlimit limit = saved_;
    limit.rlim_cur = rlim_t(max_bytes);
    ::setrlimit(RLIMIT_FSIZE, &limit);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    ::sigaction(SIGXFSZ, &ignore, &saved_action_);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::sigaction(SIGXFSZ, &saved_action_, nullptr);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  struct sigaction saved_action_ {};
};

/// Every path under `dir` whose name holds ".tmp" (write_file_atomic's and write_checkpoint's
/// temporaries): what a failed write must not leave behind.
inline std::vector<std::string> temporaries_under(const std::filesystem::path& dir) {
  std::vector<std::string> found;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp") != std::string::npos)
      found.push_back(e.path().string());
  return found;
}

}  // namespace ddpm::test

// One trainer per run folder: an exclusive flock(2) on RUN/.lock, held for the life of the
// RunLock, with the holder's PID written into the file so that a refused second trainer can name
// it. The kernel drops a flock when its holder's descriptor closes, so a trainer that dies (even
// by SIGKILL) leaves a stale file that blocks nobody; the file itself is never removed (removing
// it would let a third process lock a fresh inode while a second still holds the old one).
//
//   RunLock lock(run_dir);   // throws RunBusy naming the holder's PID when another trainer runs
//   Trainer trainer(...);    // ... the folder is ours until `lock` goes out of scope
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <stdexcept>

namespace ddpm {

/// Thrown when another live process holds the folder's lock.
class RunBusy : public std::runtime_error {
 public:
  RunBusy(const std::string& message, pid_t holder)
      : std::runtime_error(message), holder_(holder) {}
  /// The PID the holder wrote into the lock file (0 when it had not written one yet).
  pid_t holder() const { return holder_; }

 private:
  pid_t holder_;
};

class RunLock {
 public:
  static constexpr const char* kFileName = ".lock";

  /// Creates `run_dir` when missing and takes the lock without waiting. Throws RunBusy when
  /// another process holds it, std::runtime_error (with the OS error) when the file cannot be
  /// opened or written.
  explicit RunLock(const std::filesystem::path& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace ddpm

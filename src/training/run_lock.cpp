// flock(2) rather than fcntl record locks: a flock belongs to the open file description, so it is
// not dropped when some other descriptor of the same file in this process is closed, and it is
// released by the kernel when the process exits by any means.
#include "training/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace ddpm {

namespace {

std::runtime_error os_error(const std::filesystem::path& path, const char* what, int err) {
  return std::runtime_error(path.string() + ": " + what + " failed: " + std::strerror(err));
}

/// The PID written by the holder, 0 when the file holds none (yet).
pid_t read_pid(int fd) {
  char text[32] = {};
  const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
  if (n <= 0) return 0;
  try {
    return pid_t(std::stol(std::string(text, size_t(n))));
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

RunLock::RunLock(const std::filesystem::path& run_dir) : path_(run_dir / kFileName) {
  std::filesystem::create_directories(run_dir);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw os_error(path_, "open", errno);
  int rc;
  while ((rc = ::flock(fd_, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
  }
  if (rc != 0) {
    const int err = errno;
    const pid_t holder = err == EWOULDBLOCK ? read_pid(fd_) : 0;
    ::close(fd_);
    fd_ = -1;
    if (err != EWOULDBLOCK) throw os_error(path_, "flock", err);
    throw RunBusy(run_dir.string() + " is in use by another trainer (" +
                      (holder > 0 ? "pid " + std::to_string(holder) : "pid unknown") +
                      ", holding " + path_.string() +
                      "); wait for it to finish, stop it, or use another run folder",
                  holder);
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw os_error(path_, "write", err);
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace ddpm

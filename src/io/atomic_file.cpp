// Crash-safe file replacement, the write-fsync-rename pattern of POSIX rename(2): the rename is
// atomic, so a reader sees the old file or the complete new one.
#include "io/atomic_file.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ddpm {

namespace {

std::runtime_error os_error(const std::filesystem::path& path, const char* what, int err) {
  return std::runtime_error(path.string() + ": " + what + " failed: " + std::strerror(err));
}

/// Writes every byte of every piece, retrying short writes and EINTR.
int write_all(int fd, std::vector<std::string_view> pieces) {
  size_t next = 0;
  while (next < pieces.size()) {
    std::vector<iovec> iov;
    for (size_t i = next; i < pieces.size() && iov.size() < IOV_MAX; ++i)
      iov.push_back({const_cast<char*>(pieces[i].data()), pieces[i].size()});
    const ssize_t written = ::writev(fd, iov.data(), int(iov.size()));
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    size_t left = size_t(written);
    while (next < pieces.size() && left >= pieces[next].size()) left -= pieces[next++].size();
    if (left > 0) pieces[next].remove_prefix(left);
    while (next < pieces.size() && pieces[next].empty()) ++next;
  }
  return 0;
}

}  // namespace

void write_file_atomic(const std::filesystem::path& path,
                       const std::vector<std::string_view>& pieces) {
  static std::atomic<uint64_t> counter{0};
  const std::filesystem::path tmp =
      path.string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);

  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw os_error(tmp, "open", errno);
  int err = write_all(fd, pieces);
  const char* what = "write";
  if (err == 0 && ::fsync(fd) != 0) err = errno, what = "fsync";
  if (::close(fd) != 0 && err == 0) err = errno, what = "close";
  if (err == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno, what = "rename";
  if (err != 0) {
    ::unlink(tmp.c_str());
    throw os_error(path, what, err);
  }
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  write_file_atomic(path, std::vector<std::string_view>{bytes});
}

void sync_directory(const std::filesystem::path& dir) {
  const std::filesystem::path target = dir.empty() ? std::filesystem::path(".") : dir;
  const int fd = ::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw os_error(target, "open", errno);
  const int err = ::fsync(fd) != 0 ? errno : 0;
  ::close(fd);
  if (err != 0) throw os_error(target, "fsync", err);
}

}  // namespace ddpm

// RunLock (training/run_lock.h): one holder at a time, the holder's PID in the refusal, and a
// lock whose holder died blocks nobody.
#include "training/run_lock.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <optional>

#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(RunLock, CreatesTheFolderAndWritesItsPid) {
  test::TempDir dir;
  RunLock lock(dir.path / "run");
  EXPECT_EQ(lock.path(), dir.path / "run" / ".lock");
  EXPECT_EQ(read_text(lock.path()), std::to_string(::getpid()) + "\n");
}

TEST(RunLock, ASecondHolderIsRefusedUntilTheFirstLetsGo) {
  test::TempDir dir;
  std::optional<RunLock> first(std::in_place, dir.path);
  try {
    RunLock second(dir.path);  // its own open file description: flock conflicts even in-process
    FAIL() << "a second lock on a held folder was granted";
  } catch (const RunBusy& e) {
    EXPECT_EQ(e.holder(), ::getpid());
    EXPECT_NE(std::string(e.what()).find("pid " + std::to_string(::getpid())), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(dir.path.string()), std::string::npos) << e.what();
  }
  first.reset();
  EXPECT_NO_THROW(RunLock again(dir.path));
}

// Another process holds the lock: refused, naming that process; once it is killed (SIGKILL, no
// chance to clean up) the same file no longer blocks.
TEST(RunLock, AHolderKilledLeavesNoBlockingLock) {
  test::TempDir dir;
  const std::string path = (dir.path / RunLock::kFileName).string();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // only async-signal-safe calls after fork in a threaded process
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(1);
    char digits[16];
    int n = 0;
    for (pid_t p = ::getpid(); p > 0; p /= 10) digits[n++] = char('0' + p % 10);
    for (int i = n - 1; i >= 0; --i) (void)!::write(fd, &digits[i], 1);
    (void)!::write(ready[1], "x", 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char byte;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1) << "the child could not take the lock";
  ::close(ready[0]);
  try {
    RunLock refused(dir.path);
    ADD_FAILURE() << "the folder of a live holder was granted";
  } catch (const RunBusy& e) {
    EXPECT_EQ(e.holder(), child) << e.what();
    EXPECT_NE(std::string(e.what()).find("pid " + std::to_string(child)), std::string::npos)
        << e.what();
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  // The stale file still names the dead child; it blocks nobody and is taken over.
  EXPECT_EQ(read_text(path), std::to_string(child));
  RunLock after(dir.path);
  EXPECT_EQ(read_text(path), std::to_string(::getpid()) + "\n");
}

}  // namespace
}  // namespace ddpm

// Runs a piece of code in a child process whose address space may grow by at most a given number
// of bytes (RLIMIT_AS), for tests that a reader does not allocate what a hostile header claims:
// an allocation of the claimed size fails there, while reading only what the file holds passes.
#pragma once
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <functional>
#include <string>

namespace ddpm::test {

/// The child's outcome: "ok", "exception: <what()>", or "died" when it did not exit normally.
inline std::string run_with_address_space_limit(size_t extra_bytes,
                                                const std::function<void()>& body) {
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    long pages = 0;
    if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(statm, "%ld", &pages) != 1) pages = 0;
      std::fclose(statm);
    }
    const rlim_t limit = rlim_t(pages) * rlim_t(sysconf(_SC_PAGESIZE)) + extra_bytes;
    const rlimit rl{limit, limit};
    setrlimit(RLIMIT_AS, &rl);
    std::string outcome = "ok";
    try {
      body();
    } catch (const std::exception& e) {
      outcome = std::string("exception: ") + e.what();
    }
    if (write(fds[1], outcome.data(), outcome.size()) < 0) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  std::string outcome;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof buffer)) > 0) outcome.append(buffer, size_t(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "died";
  return outcome;
}

}  // namespace ddpm::test

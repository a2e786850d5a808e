// Helpers shared by the libFuzzer targets (fuzz/README.md): a scratch file for readers that take
// a path, and the rule every target follows — a std::exception is the expected rejection of
// hostile input; anything else (a signal, a sanitizer report, a non-std exception reaching
// std::terminate, a timeout) is a bug.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace ddpm::fuzz {

/// One scratch file per fuzzing process (under $TMPDIR, else /dev/shm or /tmp), rewritten with
/// each input and removed at exit.
inline const std::string& scratch_path(const char* suffix) {
  struct Scratch {
    std::string path;
    ~Scratch() { std::remove(path.c_str()); }
  };
  static const Scratch scratch{[suffix] {
    const char* tmp = std::getenv("TMPDIR");
    std::string dir = tmp && *tmp ? tmp : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    return dir + "/ddpm-fuzz-" + std::to_string(getpid()) + suffix;
  }()};
  return scratch.path;
}

inline void write_scratch(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();  // the harness itself is broken, not the input
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

/// Runs `body`; a std::exception is a clean rejection and is swallowed.
template <typename F>
void expect_clean(F&& body) {
  try {
    body();
  } catch (const std::exception&) {
  }
}

/// An invariant of accepted input that does not hold: report it as a crash.
inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace ddpm::fuzz

#include "progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace ddpm::cli {

ProgressLine::ProgressLine(FILE* stream)
    : stream_(stream),
      tty_(isatty(fileno(stream))),
      last_print_(std::chrono::steady_clock::now()) {}

void ProgressLine::update(const std::string& text, bool force) {
  if (tty_) {
    fmt::print(stream_, "\r\033[K{}", text);
    std::fflush(stream_);
    dirty_ = true;
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (force || now - last_print_ >= std::chrono::seconds(5)) {
    fmt::print(stream_, "{}\n", text);
    std::fflush(stream_);
    last_print_ = now;
  }
}

void ProgressLine::finish() {
  if (tty_ && dirty_) fmt::print(stream_, "\n");
  dirty_ = false;
  std::fflush(stream_);
}

std::string format_duration(double seconds) {
  const auto s = int64_t(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace ddpm::cli

// Terminal progress lines: redrawn in place on a TTY, a plain line every few seconds otherwise
// (so CI logs and `| tee` stay readable).
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

namespace ddpm::cli {

class ProgressLine {
 public:
  /// Draws on `stream`: stdout, or stderr for commands whose stdout is data (JSON).
  explicit ProgressLine(FILE* stream = stdout);
  /// Shows `text`; on a non-TTY prints it only if `force` or a few seconds have passed.
  void update(const std::string& text, bool force = false);
  /// Ends the line (a newline after in-place updates).
  void finish();

 private:
  FILE* stream_;
  bool tty_;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point last_print_;
};

/// "1h02m", "3m20s", "12s".
std::string format_duration(double seconds);

}  // namespace ddpm::cli

// Runs the built `ddpm` program as a user would, for the CLI tests.
#pragma once
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ddpm::test {

struct CliResult {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr together
};

/// The model section of the CLI tests' tiny runs: two levels of 8 and 16 channels, attention
/// at the lower one; a step takes milliseconds.
inline nlohmann::json tiny_model_json() {
  return {{"block_out_channels", {8, 16}},
          {"layers_per_block", 1},
          {"down_block_types", {"DownBlock2D", "AttnDownBlock2D"}},
          {"up_block_types", {"AttnUpBlock2D", "UpBlock2D"}},
          {"norm_num_groups", 4}};
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// A whole file's bytes ("" when it cannot be read).
inline std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::string ddpm_binary() {
  return std::string(DDPM_BINARY_DIR) + "/ddpm";
}

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

/// `env` is a prefix such as "DDPM_FASHION_MNIST_DIR=/nowhere".
inline CliResult run_ddpm(const std::vector<std::string>& args, const std::string& env = "") {
  std::string command = env + (env.empty() ? "" : " ") + shell_quote(ddpm_binary());
  for (const auto& a : args) command += " " + shell_quote(a);
  command += " 2>&1";
  CliResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

/// Starts `ddpm args...` in the background, its output (stdout and stderr) in `log` or
/// discarded, with `env` ("NAME=value") added to its environment; returns its pid.
inline pid_t spawn_ddpm(const std::vector<std::string>& args, const std::string& log = "",
                        const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv_storage{ddpm_binary()};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<std::string> env_storage = env;
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* out = std::fopen(log.empty() ? "/dev/null" : log.c_str(), "w");
    if (out) {
      dup2(fileno(out), STDOUT_FILENO);
      dup2(fileno(out), STDERR_FILENO);
    }
    for (auto& e : env_storage) putenv(e.data());
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

/// Waits up to 30 s until RUN/log.csv has a row for `step` (training is under way); false if not.
inline bool wait_for_log_row(const std::filesystem::path& run, int64_t step) {
  const std::string row = "\n" + std::to_string(step) + ",";
  for (int i = 0; i < 1500; ++i) {
    if (contains(read_bytes(run / "log.csv"), row)) return true;
    usleep(20000);
  }
  return false;
}

/// Waits for `pid`; returns its exit code, or 128 + signal when a signal ended it.
inline int wait_for(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace ddpm::test

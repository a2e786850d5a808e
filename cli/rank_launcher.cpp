#include "rank_launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "invocation.h"
#include "training/distributed_env.h"

extern char** environ;

namespace ddpm::cli {

namespace {

constexpr int kMaxRanks = 64;
pid_t g_ranks[kMaxRanks];
std::atomic<int> g_rank_count{0};
std::atomic<int> g_signals{0};       ///< forwarded so far
std::atomic<int> g_first_signal{0};  ///< SIGINT or SIGTERM

void forward(int sig) {
  const int n = g_signals.fetch_add(1) + 1;
  int expected = 0;
  g_first_signal.compare_exchange_strong(expected, sig);
  for (int r = 0; r < g_rank_count.load(); ++r) kill(g_ranks[r], n == 1 ? sig : SIGKILL);
}

/// A TCP port nobody listens on now (the kernel's pick), as torchrun's --standalone finds one.
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string why = std::strerror(errno);
    close(fd);
    throw std::runtime_error("cannot find a free port on 127.0.0.1: " + why);
  }
  close(fd);
  return ntohs(address.sin_port);
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status))
    return fmt::format("signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return fmt::format("status {}", WEXITSTATUS(status));
}

}  // namespace

int launch_local_ranks(int nproc, bool threads_given, std::chrono::seconds grace) {
  if (nproc < 1 || nproc > kMaxRanks)
    throw std::invalid_argument(
        fmt::format("--nproc-per-node must be from 1 to {}, got {}", kMaxRanks, nproc));
  const int port = free_port();
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const std::string threads = std::to_string(std::max(1u, cores / unsigned(nproc)));

  // Everything exec needs, built before fork: the child only calls async-signal-safe functions.
  const auto& arguments = invocation();
  std::vector<char*> argv;
  for (const auto& a : arguments) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::vector<std::string>> environments(static_cast<size_t>(nproc));
  std::vector<std::vector<char*>> envps(static_cast<size_t>(nproc));
  for (int r = 0; r < nproc; ++r) {
    auto& env = environments[size_t(r)];
    std::vector<std::pair<std::string, std::string>> set =
        rank_environment(r, nproc, "127.0.0.1", port);
    if (!threads_given) set.emplace_back("OMP_NUM_THREADS", threads);
    for (char** e = environ; *e; ++e) {
      const std::string entry = *e;
      const std::string name = entry.substr(0, entry.find('='));
      bool replaced = false;
      for (const auto& [key, value] : set) replaced |= key == name;
      if (!replaced) env.push_back(entry);
    }
    for (const auto& [key, value] : set) env.push_back(key + "=" + value);
    for (auto& e : env) envps[size_t(r)].push_back(const_cast<char*>(e.c_str()));
    envps[size_t(r)].push_back(nullptr);
  }

  struct sigaction action {};
  action.sa_handler = forward;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  fmt::print("launching {} ranks on 127.0.0.1:{} ({} threads each)\n", nproc, port,
             threads_given ? std::string("--threads") : threads);
  std::fflush(stdout);
  for (int r = 0; r < nproc; ++r) {
    const pid_t pid = fork();
    if (pid < 0) {
      forward(SIGKILL);
      throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
      setpgid(0, 0);  // Ctrl-C reaches the launcher only; it forwards
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      execve("/proc/self/exe", argv.data(), envps[size_t(r)].data());
      _exit(127);
    }
    g_ranks[r] = pid;
    g_rank_count.store(r + 1);
  }

  int running = nproc, result = 0;
  std::string failure;
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (running > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid == 0) {
      if (std::chrono::steady_clock::now() > deadline)
        for (int r = 0; r < nproc; ++r) kill(g_ranks[r], SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    int rank = -1;
    for (int r = 0; r < nproc; ++r)
      if (g_ranks[r] == pid) rank = r;
    if (rank < 0) continue;
    --running;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    const int sig = g_first_signal.load();
    const bool stopped_by_us = sig != 0 && WIFEXITED(status) && WEXITSTATUS(status) == 128 + sig;
    if (ok || stopped_by_us) {
      if (stopped_by_us) result = 128 + sig;
      continue;
    }
    if (failure.empty()) {
      failure = fmt::format("rank {} exited with {}", rank, describe_exit(status));
      fmt::print(stderr, "error: {}; stopping the other ranks\n", failure);
      for (int r = 0; r < nproc; ++r)
        if (r != rank) kill(g_ranks[r], SIGTERM);
      deadline = std::chrono::steady_clock::now() + grace;
    }
    result = 1;
  }
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  return result;
}

}  // namespace ddpm::cli

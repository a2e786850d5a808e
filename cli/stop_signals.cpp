#include "stop_signals.h"

#include <signal.h>
#include <unistd.h>

namespace ddpm::cli {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};  ///< the first signal received
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "a signal handler may only touch lock-free atomics");

extern "C" void on_stop_signal(int sig) {
  int none = 0;
  if (!g_signal.compare_exchange_strong(none, sig)) _exit(128 + sig);  // a second: stop at once
  g_stop.store(true);
}

void set_handler(void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace

void install_stop_signals() {
  set_handler(on_stop_signal);
}
void restore_default_signals() {
  set_handler(SIG_DFL);
}
const std::atomic<bool>& stop_requested() {
  return g_stop;
}
int stop_signal() {
  return g_signal.load();
}

}  // namespace ddpm::cli

// Ctrl-C / SIGTERM for the training commands (issue 13): the first SIGINT/SIGTERM asks the
// trainer to finish the step in hand, checkpoint and return, and the command exits 128 + signal
// (130 / 143, the shell's convention); a second one exits at once. The handler only stores into
// lock-free atomics and calls _exit, both async-signal-safe.
#pragma once
#include <atomic>

namespace ddpm::cli {

/// Installs the handler for SIGINT and SIGTERM (SA_RESTART, so a checkpoint write in progress is
/// not interrupted with EINTR).
void install_stop_signals();
/// Restores the default actions.
void restore_default_signals();
/// Turns true at the first signal: pass to the trainer's run().
const std::atomic<bool>& stop_requested();
/// The first signal received (0: none).
int stop_signal();

}  // namespace ddpm::cli

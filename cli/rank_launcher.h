// ddpm train --nproc-per-node N: the built-in launcher. Starts N ranks on this machine, each its
// own process — an exec of this same binary with the same arguments, so that every rank's command
// line still shows --out DIR — with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR
// (127.0.0.1) and MASTER_PORT (a free port) in its environment, as torchrun sets them, and
// OMP_NUM_THREADS = cores / N unless the command gives --threads. Each rank runs in its own
// process group so that Ctrl-C reaches the launcher once, which forwards SIGINT/SIGTERM to every
// rank (a second one: SIGKILL). When a rank fails, the launcher names it ("rank 1 exited with
// signal 9 (Killed)"), stops the others and exits non-zero.
#pragma once
#include <chrono>

namespace ddpm::cli {

/// Runs the ranks to completion; returns the exit status for the command: 0 when every rank
/// exits 0, 128 + signal after a forwarded SIGINT/SIGTERM, 1 when a rank failed.
int launch_local_ranks(int nproc, bool threads_given, std::chrono::seconds grace);

}  // namespace ddpm::cli

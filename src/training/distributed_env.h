// The variables a data-parallel job is launched with, as torchrun sets them (PyTorch's
// torch/distributed/run.py and rendezvous.py `env://`): RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, and under torchrun's elastic agent
// TORCHELASTIC_USE_AGENT_STORE=True with TORCHELASTIC_RESTART_COUNT (every rank is then a client
// of the agent's TCPStore, under the prefix "/worker/attempt_<restart count>").
//
//   auto env = distributed_env_from([](const char* name) { return std::getenv(name); });
//   if (env) group = ProcessGroup::join(*env, device, timeout);   // training/process_group.h
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ddpm {

struct DistributedEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;  ///< ranks on this machine (LOCAL_WORLD_SIZE; 1 when unset)
  std::string master_addr;   ///< where the TCPStore listens
  int master_port = 0;
  /// torchrun's agent hosts the store: every rank connects as a client, keys under store_prefix.
  bool agent_store = false;
  std::string store_prefix;  ///< "/worker/attempt_N" with the agent store, else empty
};

/// The job this process belongs to, read through `lookup` (getenv): nullopt when neither RANK
/// nor WORLD_SIZE is set. Throws std::invalid_argument naming the variable when one is set but
/// another is missing, or a value is not a number in range (RANK in [0, WORLD_SIZE), a port in
/// [1, 65535]).
std::optional<DistributedEnv> distributed_env_from(
    const std::function<const char*(const char*)>& lookup);

/// The variables to start rank `rank` of `world_size` local processes with (the built-in
/// launcher): name → value, the same set torchrun gives its workers (without the agent store).
std::vector<std::pair<std::string, std::string>> rank_environment(int rank, int world_size,
                                                                  const std::string& master_addr,
                                                                  int master_port);

}  // namespace ddpm

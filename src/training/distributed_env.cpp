#include "training/distributed_env.h"

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace ddpm {

namespace {

long read_integer(const char* name, const char* text, long low, long high) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < low || value > high)
    throw std::invalid_argument(fmt::format(
        "environment variable {}={}: expected an integer from {} to {}", name, text, low, high));
  return value;
}

}  // namespace

std::optional<DistributedEnv> distributed_env_from(
    const std::function<const char*(const char*)>& lookup) {
  const char* rank = lookup("RANK");
  const char* world = lookup("WORLD_SIZE");
  if (!rank && !world) return std::nullopt;
  auto need = [&](const char* name) {
    const char* value = lookup(name);
    if (!value || !*value)
      throw std::invalid_argument(fmt::format(
          "a data-parallel job needs RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT in the "
          "environment (as torchrun sets them); {} is not set",
          name));
    return value;
  };
  DistributedEnv env;
  env.world_size = int(read_integer("WORLD_SIZE", need("WORLD_SIZE"), 1, 1 << 20));
  env.rank = int(read_integer("RANK", need("RANK"), 0, env.world_size - 1));
  env.master_addr = need("MASTER_ADDR");
  env.master_port = int(read_integer("MASTER_PORT", need("MASTER_PORT"), 1, 65535));
  const char* local_rank = lookup("LOCAL_RANK");
  const char* local_world = lookup("LOCAL_WORLD_SIZE");
  env.local_world_size = local_world && *local_world
                             ? int(read_integer("LOCAL_WORLD_SIZE", local_world, 1, env.world_size))
                             : 1;
  env.local_rank = local_rank && *local_rank
                       ? int(read_integer("LOCAL_RANK", local_rank, 0, env.world_size - 1))
                       : 0;
  const char* agent = lookup("TORCHELASTIC_USE_AGENT_STORE");
  env.agent_store = agent && std::string(agent) == "True";
  if (env.agent_store) {
    const char* attempt = lookup("TORCHELASTIC_RESTART_COUNT");
    env.store_prefix = fmt::format(
        "/worker/attempt_{}",
        attempt && *attempt ? read_integer("TORCHELASTIC_RESTART_COUNT", attempt, 0, 1 << 20) : 0);
  }
  return env;
}

std::vector<std::pair<std::string, std::string>> rank_environment(int rank, int world_size,
                                                                  const std::string& master_addr,
                                                                  int master_port) {
  return {{"RANK", std::to_string(rank)},
          {"WORLD_SIZE", std::to_string(world_size)},
          {"LOCAL_RANK", std::to_string(rank)},
          {"LOCAL_WORLD_SIZE", std::to_string(world_size)},
          {"GROUP_RANK", "0"},
          {"MASTER_ADDR", master_addr},
          {"MASTER_PORT", std::to_string(master_port)}};
}

}  // namespace ddpm

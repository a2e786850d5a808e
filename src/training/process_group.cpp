#include "training/process_group.h"

#include "training/backend_collectives.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>
#include <map>

#include <fmt/format.h>

namespace ddpm {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kBeat = std::chrono::milliseconds(250);  ///< heartbeat period

std::string what_of(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e))
    return c10_error->what_without_backtrace();
  return e.what();
}

std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n') c = ' ';
  return text;
}

std::string count_key(const std::string& name) {
  return "ddpm/" + name;
}

std::unique_ptr<Collectives> make_gloo_collectives(const c10::intrusive_ptr<c10d::Store>& store,
                                                   const DistributedEnv& env,
                                                   std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  // As torch.distributed does: GLOO_SOCKET_IFNAME picks the interface; a loopback master means
  // one machine, so bind to loopback; otherwise the address this host's name resolves to.
  const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
  const bool loopback = env.master_addr == "localhost" || env.master_addr.rfind("127.", 0) == 0;
  if (interface && *interface)
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
  else if (loopback)
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  else
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  options->threads = 2;
  auto backend =
      c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, options);
  return std::make_unique<BackendCollectives<c10d::ProcessGroupGloo>>(backend, "gloo");
}

}  // namespace

ProcessGroup::ProcessGroup(DistributedEnv env, std::chrono::milliseconds timeout)
    : env_(std::move(env)), timeout_(timeout) {}

std::shared_ptr<ProcessGroup> ProcessGroup::join(const DistributedEnv& env, torch::Device device,
                                                 std::chrono::milliseconds timeout) {
  std::shared_ptr<ProcessGroup> group(new ProcessGroup(env, timeout));
  const std::string where = fmt::format("{}:{}", env.master_addr, env.master_port);
  auto connect = [&](bool server) -> c10::intrusive_ptr<c10d::Store> {
    c10d::TCPStoreOptions options;
    options.port = uint16_t(env.master_port);
    options.isServer = server;
    options.waitWorkers = false;
    options.timeout = timeout;
    c10::intrusive_ptr<c10d::Store> store;
    try {
      store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format(
          server ? "rank 0 cannot serve the rendezvous store on {} (MASTER_ADDR:MASTER_PORT): {}"
                 : "rank {2} cannot reach the rendezvous store at {0} (MASTER_ADDR:MASTER_PORT) "
                   "within {3} s: {1}",
          where, one_line(what_of(e)), env.rank, timeout.count() / 1000.0));
    }
    if (!env.store_prefix.empty())
      store = c10::make_intrusive<c10d::PrefixStore>(env.store_prefix, store);
    return store;
  };
  // Rank 0 hosts the store unless torchrun's agent does; the control connection is a client.
  group->store_ = connect(env.rank == 0 && !env.agent_store);
  group->control_ = connect(false);

  // Who is here: RANK claimed once, WORLD_SIZE the same everywhere.
  auto& control = *group->control_;
  if (control.add(count_key(fmt::format("rank/{}", env.rank)), 1) != 1)
    throw std::invalid_argument(fmt::format(
        "two processes of the job started with RANK={} (WORLD_SIZE={}); give each its own rank",
        env.rank, env.world_size));
  const std::string mine = std::to_string(env.world_size);
  control.set(count_key(fmt::format("world/{}", env.rank)),
              std::vector<uint8_t>(mine.begin(), mine.end()));
  for (int r = 0; r < env.world_size; ++r) {
    const auto key = count_key(fmt::format("world/{}", r));
    try {
      control.wait({key}, timeout);
    } catch (const std::exception&) {
      throw RankLost(r, fmt::format("rank {} did not join within {} s (WORLD_SIZE={} on rank {}; "
                                    "is every rank started with the same WORLD_SIZE?)",
                                    r, timeout.count() / 1000.0, env.world_size, env.rank));
    }
    const auto value = control.get(key);
    const std::string theirs(value.begin(), value.end());
    if (theirs != mine) {
      // The store's host lingers a moment so that the other ranks can read their answer too.
      if (env.rank == 0 && !env.agent_store) std::this_thread::sleep_for(std::chrono::seconds(1));
      throw std::invalid_argument(fmt::format(
          "WORLD_SIZE differs between ranks: rank {} has {}, rank {} has {}; start every rank with "
          "the same WORLD_SIZE",
          env.rank, mine, r, theirs));
    }
  }
  group->heartbeat_ = std::thread([g = group.get()] { g->beat(); });

  try {
    if (device.is_cuda())
      group->collectives_ = make_nccl_collectives(group->store_, env.rank, env.world_size, timeout);
    else
      group->collectives_ = make_gloo_collectives(group->store_, env, timeout);
  } catch (const RankLost&) {
    throw;
  } catch (const std::exception& e) {
    group->throw_lost("connecting the " + std::string(device.is_cuda() ? "NCCL" : "Gloo") +
                      " process group: " + one_line(what_of(e)));
  }
  return group;
}

ProcessGroup::~ProcessGroup() {
  stopping_ = true;
  if (heartbeat_.joinable()) heartbeat_.join();
}

void ProcessGroup::beat() {
  const auto key = count_key(fmt::format("heartbeat/{}", env_.rank));
  while (!stopping_) {
    try {
      std::lock_guard<std::mutex> lock(control_mutex_);
      control_->add(key, 1);
    } catch (const std::exception&) {
      return;  // the store is gone; collectives will say so
    }
    std::this_thread::sleep_for(kBeat);
  }
}

int64_t ProcessGroup::heartbeat_of(int rank) {
  std::lock_guard<std::mutex> lock(control_mutex_);
  return control_->add(count_key(fmt::format("heartbeat/{}", rank)), 0);
}

void ProcessGroup::throw_lost(const std::string& cause) {
  const std::string store_host = env_.agent_store ? "torchrun's agent" : "rank 0";
  std::vector<int64_t> before(size_t(env_.world_size));
  try {
    for (int r = 0; r < env_.world_size; ++r) before[size_t(r)] = heartbeat_of(r);
    std::this_thread::sleep_for(6 * kBeat);
    std::vector<int> silent;
    for (int r = 0; r < env_.world_size; ++r)
      if (r != env_.rank && heartbeat_of(r) == before[size_t(r)]) silent.push_back(r);
    if (!silent.empty())
      throw RankLost(silent.front(), fmt::format("lost rank {}: it stopped answering ({})",
                                                 silent.front(), one_line(cause)));
  } catch (const RankLost&) {
    throw;
  } catch (const std::exception&) {
    if (!env_.agent_store)
      throw RankLost(0, fmt::format("lost rank 0: the rendezvous store it hosted is gone ({})",
                                    one_line(cause)));
    throw std::runtime_error(
        fmt::format("lost {}'s rendezvous store ({})", store_host, one_line(cause)));
  }
  throw std::runtime_error(
      fmt::format("a collective failed while every rank still answers: {}", one_line(cause)));
}

void ProcessGroup::Pending::wait() {
  if (!work_) return;
  auto work = std::move(work_);
  work_.reset();
  try {
    work->wait();
  } catch (const RankLost&) {
    throw;
  } catch (const std::exception& e) {
    group_->throw_lost(what_of(e));
  }
}

ProcessGroup::Pending ProcessGroup::allreduce_sum(std::vector<torch::Tensor> tensors) {
  try {
    return Pending(this, collectives_->allreduce_sum(tensors));
  } catch (const std::exception& e) {
    throw_lost(what_of(e));
  }
}

void ProcessGroup::broadcast(torch::Tensor tensor, int root) {
  std::vector<torch::Tensor> tensors{std::move(tensor)};
  try {
    Pending(this, collectives_->broadcast(tensors, root)).wait();
  } catch (const RankLost&) {
    throw;
  } catch (const std::exception& e) {
    throw_lost(what_of(e));
  }
}

void ProcessGroup::meet(const std::string& tag) {
  const auto key = count_key("meet/" + tag);
  {
    std::lock_guard<std::mutex> lock(control_mutex_);
    control_->add(key, 1);
  }
  std::map<int, std::pair<int64_t, Clock::time_point>> last;  // rank → (heartbeat, seen at)
  auto next_check = Clock::now();
  while (true) {
    int64_t arrived = 0;
    try {
      std::lock_guard<std::mutex> lock(control_mutex_);
      arrived = control_->add(key, 0);
    } catch (const std::exception& e) {
      throw_lost(what_of(e));
    }
    if (arrived >= env_.world_size) return;
    const auto now = Clock::now();
    if (now >= next_check) {
      next_check = now + 4 * kBeat;
      for (int r = 0; r < env_.world_size; ++r) {
        if (r == env_.rank) continue;
        int64_t beat = 0;
        try {
          beat = heartbeat_of(r);
        } catch (const std::exception& e) {
          throw_lost(what_of(e));
        }
        auto it = last.find(r);
        if (it == last.end() || it->second.first != beat) {
          last[r] = {beat, now};
        } else if (now - it->second.second > timeout_) {
          throw RankLost(r, fmt::format("lost rank {}: no heartbeat for {} s (waiting at {})", r,
                                        timeout_.count() / 1000.0, tag));
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

#if !defined(DDPM_WITH_NCCL)
std::unique_ptr<Collectives> make_nccl_collectives(const c10::intrusive_ptr<c10d::Store>&, int, int,
                                                   std::chrono::milliseconds) {
  throw std::invalid_argument(
      "data-parallel training on CUDA needs NCCL, and this build's LibTorch has no CUDA; train on "
      "the CPU (--device cpu, Gloo) or build against a CUDA LibTorch");
}
#endif

}  // namespace ddpm

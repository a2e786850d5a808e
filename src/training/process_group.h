// A data-parallel job's process group on LibTorch's own distributed engine, c10d: rendezvous
// through c10d::TCPStore (rank 0 hosts it, or torchrun's agent does), collectives through
// c10d::ProcessGroupGloo on the CPU and c10d::ProcessGroupNCCL on CUDA (builds against a CUDA
// LibTorch) — the engine PyTorch's DistributedDataParallel runs on. Nothing here is home-made
// transport; what this adds is what a job needs to fail well:
//
// - every rank checks on joining that all ranks agree on WORLD_SIZE and that no RANK is taken
//   twice, and says which rank did not join within the timeout;
// - each rank keeps a heartbeat counter in the store, so that when a collective fails (a peer
//   died: connection reset) or times out (a peer hangs), the error names the lost rank;
// - meet() is a rendezvous without a fixed time limit while every rank is alive, for the work
//   rank 0 does alone (checkpoints, sample grids, evaluation), which may take longer than the
//   collectives' timeout.
//
//   auto group = ProcessGroup::join(env, torch::kCPU, std::chrono::seconds(60));
//   auto pending = group->allreduce_sum({grads});   // asynchronous; in place
//   pending.wait();                                 // throws RankLost naming the lost rank
#pragma once
#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "training/distributed_env.h"

namespace ddpm {

/// A rank of the job stopped: it died, hangs, or did not join. what() names it as "rank N".
class RankLost : public std::runtime_error {
 public:
  RankLost(int rank, const std::string& message) : std::runtime_error(message), rank_(rank) {}
  int rank() const { return rank_; }

 private:
  int rank_;
};

/// The backend's collectives (Gloo or NCCL), behind one interface for both LibTorch versions
/// (1.13's ProcessGroup subclasses and 2.x's Backend subclasses).
class Collectives {
 public:
  virtual ~Collectives() = default;
  virtual c10::intrusive_ptr<c10d::Work> allreduce_sum(std::vector<torch::Tensor>& tensors) = 0;
  virtual c10::intrusive_ptr<c10d::Work> broadcast(std::vector<torch::Tensor>& tensors,
                                                   int root) = 0;
  virtual std::string name() const = 0;
};

class ProcessGroup {
 public:
  /// Joins the job described by `env`: Gloo for a CPU device, NCCL for CUDA. `timeout` bounds
  /// the rendezvous, every collective, and how long a silent rank is waited for. Throws
  /// std::runtime_error naming MASTER_ADDR:MASTER_PORT when the store cannot be reached or
  /// served, RankLost when a rank does not join in time, std::invalid_argument on a WORLD_SIZE
  /// disagreement or a RANK claimed twice.
  static std::shared_ptr<ProcessGroup> join(const DistributedEnv& env, torch::Device device,
                                            std::chrono::milliseconds timeout);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return env_.rank; }
  int size() const { return env_.world_size; }
  const DistributedEnv& env() const { return env_; }
  std::string backend() const { return collectives_->name(); }
  std::chrono::milliseconds timeout() const { return timeout_; }

  /// A launched collective.
  class Pending {
   public:
    Pending() = default;
    /// Blocks until done; throws RankLost (or std::runtime_error with the backend's message).
    void wait();
    bool launched() const { return work_.defined(); }

   private:
    friend class ProcessGroup;
    Pending(ProcessGroup* group, c10::intrusive_ptr<c10d::Work> work)
        : group_(group), work_(std::move(work)) {}
    ProcessGroup* group_ = nullptr;
    c10::intrusive_ptr<c10d::Work> work_;
  };

  /// Sums `tensors` across ranks, in place, asynchronously (collectives run in launch order,
  /// which must be the same on every rank).
  Pending allreduce_sum(std::vector<torch::Tensor> tensors);
  /// Copies `tensor` from `root` to every rank (blocking).
  void broadcast(torch::Tensor tensor, int root);
  /// Returns once every rank has called meet() with this tag; waits as long as every rank's
  /// heartbeat goes on, and throws RankLost when one stops for longer than the timeout.
  void meet(const std::string& tag);

  /// After a failed or timed-out collective: which rank stopped (its heartbeat no longer
  /// advances, or the store it hosted is gone). Throws RankLost naming it, else a
  /// std::runtime_error with `cause`.
  [[noreturn]] void throw_lost(const std::string& cause);

 private:
  ProcessGroup(DistributedEnv env, std::chrono::milliseconds timeout);
  void beat();
  int64_t heartbeat_of(int rank);

  DistributedEnv env_;
  std::chrono::milliseconds timeout_;
  c10::intrusive_ptr<c10d::Store> store_;    ///< the backend's
  c10::intrusive_ptr<c10d::Store> control_;  ///< heartbeats and meet(): a second connection
  std::mutex control_mutex_;
  std::unique_ptr<Collectives> collectives_;
  std::atomic<bool> stopping_{false};
  std::thread heartbeat_;
};

/// NCCL collectives (training/cuda/nccl_collectives.cpp, compiled against a CUDA LibTorch only).
std::unique_ptr<Collectives> make_nccl_collectives(const c10::intrusive_ptr<c10d::Store>& store,
                                                   int rank, int size,
                                                   std::chrono::milliseconds timeout);

}  // namespace ddpm

// Collectives (training/process_group.h) over a c10d backend class: ProcessGroupGloo or
// ProcessGroupNCCL, which spell allreduce and broadcast the same way in LibTorch 1.13 (where they
// derive from ProcessGroup) and 2.x (where they derive from Backend).
#pragma once
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <string>
#include <vector>

#include "training/process_group.h"

namespace ddpm {

template <typename Backend>
class BackendCollectives : public Collectives {
 public:
  BackendCollectives(c10::intrusive_ptr<Backend> backend, std::string name)
      : backend_(std::move(backend)), name_(std::move(name)) {}
  c10::intrusive_ptr<c10d::Work> allreduce_sum(std::vector<torch::Tensor>& tensors) override {
    return backend_->allreduce(tensors);
  }
  c10::intrusive_ptr<c10d::Work> broadcast(std::vector<torch::Tensor>& tensors, int root) override {
    c10d::BroadcastOptions options;
    options.rootRank = root;
    return backend_->broadcast(tensors, options);
  }
  std::string name() const override { return name_; }

 private:
  c10::intrusive_ptr<Backend> backend_;
  std::string name_;
};

}  // namespace ddpm

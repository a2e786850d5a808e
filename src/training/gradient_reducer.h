// What a training step does with its gradients between the loss and the optimizer when there is
// more than one process (training/train_step.h): average them across ranks.
//
// BucketedAllReduce is the scheme of PyTorch DDP's reducer (torch/csrc/distributed/c10d/
// reducer.cpp): parameters are grouped in reverse registration order — about the order backward
// produces their gradients — into buckets of bucket_bytes (the first one small, as DDP's 1 MiB
// first bucket); a hook on each parameter copies its gradient into its bucket's flat buffer as
// soon as autograd computes it, and a full bucket's all-reduce is launched at once, while
// backward is still running (overlap). after_backward() waits for them and writes gradient sum /
// world size back. With overlap off every bucket is launched after backward instead (the
// blocking baseline the benchmark compares with).
//
//   BucketedAllReduce reducer(group, model->parameters(), {});
//   reducer.before_backward(step_values);   // [loss, stop]: summed across ranks as well
//   loss.backward();                        // buckets launch from the hooks
//   reducer.after_backward();               // gradients now averaged on every rank
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "training/process_group.h"

namespace ddpm {

class GradientReducer {
 public:
  virtual ~GradientReducer() = default;
  /// Before backward: `step_values` (float [K], CPU) are summed across ranks in place, launched
  /// now and complete when after_backward() returns.
  virtual void before_backward(torch::Tensor step_values) = 0;
  /// After backward: every parameter's gradient is the mean over ranks.
  virtual void after_backward() = 0;
  virtual int world_size() const = 0;
  /// Seconds the last after_backward() waited for communication (time not hidden by backward).
  virtual double last_wait_seconds() const = 0;
};

struct BucketOptions {
  int64_t bucket_bytes = 25 << 20;       ///< DDP's bucket_cap_mb default, 25 MiB
  int64_t first_bucket_bytes = 1 << 20;  ///< DDP's first bucket: 1 MiB, launched soonest
  bool overlap = true;                   ///< launch buckets from backward's hooks
};

class BucketedAllReduce : public GradientReducer {
 public:
  BucketedAllReduce(std::shared_ptr<ProcessGroup> group, std::vector<torch::Tensor> parameters,
                    BucketOptions options = {});
  ~BucketedAllReduce() override;

  void before_backward(torch::Tensor step_values) override;
  void after_backward() override;
  int world_size() const override { return group_->size(); }
  double last_wait_seconds() const override { return last_wait_seconds_; }
  int64_t bucket_count() const { return int64_t(buckets_.size()); }

 private:
  struct Bucket {
    std::vector<size_t> parameters;  ///< indices into parameters_
    std::vector<int64_t> offsets;    ///< each one's first element in `flat`
    torch::Tensor flat;              ///< float [numel of the bucket], on the parameters' device
    size_t ready = 0;
    ProcessGroup::Pending pending;
  };
  void on_gradient(size_t parameter, const torch::Tensor& grad);
  void launch(Bucket& bucket);

  std::shared_ptr<ProcessGroup> group_;
  std::vector<torch::Tensor> parameters_;
  std::vector<unsigned> hooks_;
  BucketOptions options_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<size_t, size_t>> where_;  ///< parameter → (bucket, slot)
  std::vector<bool> got_gradient_;
  ProcessGroup::Pending values_pending_;
  double last_wait_seconds_ = 0;
};

/// Copies every parameter and buffer of `module` from rank 0 to all ranks (one flat broadcast):
/// the same initial weights everywhere, as DDP's constructor does.
void broadcast_from_rank0(ProcessGroup& group, torch::nn::Module& module);

}  // namespace ddpm

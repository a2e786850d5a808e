// ddpm train --sync-batchnorm: BatchNorm layers normalize with the statistics of the whole global
// batch (models/batch_statistics.h), summed across the job's ranks by a differentiable
// all-reduce on its process group, for as long as this object lives.
#pragma once
#include <memory>

#include "training/process_group.h"

namespace ddpm {

class SyncBatchNorm {
 public:
  explicit SyncBatchNorm(std::shared_ptr<ProcessGroup> group);
  ~SyncBatchNorm();
  SyncBatchNorm(const SyncBatchNorm&) = delete;
  SyncBatchNorm& operator=(const SyncBatchNorm&) = delete;
};

/// Σ over ranks of `x`, differentiable: the gradient of rank k's input is Σ over ranks of the
/// output gradients (each rank's output depends on every rank's input).
torch::Tensor all_reduce_sum(ProcessGroup& group, const torch::Tensor& x);

}  // namespace ddpm

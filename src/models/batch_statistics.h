// SyncBatchNorm's seam (issue 16): how a BatchNorm layer in training combines its batch's
// statistics with those of the other processes of a data-parallel job. Unset (the default), each
// process normalizes with its own batch, as PyTorch DDP does without SyncBatchNorm. Set (by
// training/sync_batch_norm.h, ddpm train --sync-batchnorm), every BatchNorm layer sums
// [Σx, Σx², count] per channel across ranks through `reduce`, a differentiable all-reduce, and
// normalizes with the global batch's mean and (biased) variance — torch.nn.SyncBatchNorm's
// arithmetic — so that N ranks normalize as one process with the whole batch would.
// One process is one rank, so the setting is process-wide.
#pragma once
#include <torch/torch.h>

#include <functional>

namespace ddpm {

/// float [2C + 1] → its sum over every rank, differentiable (backward: the same sum of grads).
using StatisticsAllReduce = std::function<torch::Tensor(const torch::Tensor&)>;

void set_batch_statistics_all_reduce(StatisticsAllReduce reduce);
/// Empty unless set.
const StatisticsAllReduce& batch_statistics_all_reduce();

/// BatchNorm of x [B, C, H, W] (float32) with the statistics of every rank's batch, updating
/// bn's running statistics as BatchNorm2d would (unbiased variance, momentum).
torch::Tensor synchronized_batch_norm(const torch::Tensor& x, torch::nn::BatchNorm2d& bn,
                                      const StatisticsAllReduce& reduce);

}  // namespace ddpm

#include "models/batch_statistics.h"

namespace ddpm {

namespace {
StatisticsAllReduce& reducer() {
  static StatisticsAllReduce reduce;
  return reduce;
}
}  // namespace

void set_batch_statistics_all_reduce(StatisticsAllReduce reduce) {
  reducer() = std::move(reduce);
}

const StatisticsAllReduce& batch_statistics_all_reduce() {
  return reducer();
}

torch::Tensor synchronized_batch_norm(const torch::Tensor& x, torch::nn::BatchNorm2d& bn,
                                      const StatisticsAllReduce& reduce) {
  const int64_t C = x.size(1);
  const auto& o = bn->options;
  auto count = torch::full({1}, double(x.numel() / C), x.options());
  auto global = reduce(torch::cat({x.sum({0, 2, 3}), (x * x).sum({0, 2, 3}), count}));  // [2C+1]
  auto n = global.narrow(0, 2 * C, 1);
  auto mean = global.narrow(0, 0, C) / n;                              // [C]
  auto var = (global.narrow(0, C, C) / n - mean * mean).clamp_min(0);  // biased, [C]
  auto y = (x - mean.view({1, C, 1, 1})) * torch::rsqrt(var.view({1, C, 1, 1}) + o.eps());
  if (o.affine()) y = y * bn->weight.view({1, C, 1, 1}) + bn->bias.view({1, C, 1, 1});
  if (o.track_running_stats()) {
    torch::NoGradGuard no_grad;
    const double m = o.momentum().value_or(0.1);
    const double total = n.item<double>();
    bn->running_mean.mul_(1 - m).add_(mean.detach() * m);
    bn->running_var.mul_(1 - m).add_(var.detach() * (m * total / std::max(1.0, total - 1)));
    bn->num_batches_tracked.add_(1);
  }
  return y;
}

}  // namespace ddpm

#include "training/sync_batch_norm.h"

#include "models/batch_statistics.h"

namespace ddpm {

namespace {

class AllReduceSum : public torch::autograd::Function<AllReduceSum> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               int64_t group_address) {
    ctx->saved_data["group"] = group_address;
    auto y = x.detach().clone();
    reinterpret_cast<ProcessGroup*>(group_address)->allreduce_sum({y}).wait();
    return y;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto* group = reinterpret_cast<ProcessGroup*>(ctx->saved_data["group"].toInt());
    auto g = grads[0].contiguous().clone();
    group->allreduce_sum({g}).wait();
    return {g, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor all_reduce_sum(ProcessGroup& group, const torch::Tensor& x) {
  return AllReduceSum::apply(x, int64_t(reinterpret_cast<intptr_t>(&group)));
}

SyncBatchNorm::SyncBatchNorm(std::shared_ptr<ProcessGroup> group) {
  set_batch_statistics_all_reduce(
      [group](const torch::Tensor& x) { return all_reduce_sum(*group, x); });
}

SyncBatchNorm::~SyncBatchNorm() {
  set_batch_statistics_all_reduce({});
}

}  // namespace ddpm

#include "training/gradient_reducer.h"

#include <chrono>

namespace ddpm {

BucketedAllReduce::BucketedAllReduce(std::shared_ptr<ProcessGroup> group,
                                     std::vector<torch::Tensor> parameters, BucketOptions options)
    : group_(std::move(group)), parameters_(std::move(parameters)), options_(options) {
  where_.resize(parameters_.size());
  got_gradient_.assign(parameters_.size(), false);
  // Reverse registration order: the last layers' gradients come first out of backward.
  int64_t filled = 0, cap = options_.first_bucket_bytes;
  for (size_t k = parameters_.size(); k-- > 0;) {
    const auto& p = parameters_[k];
    if (!p.requires_grad()) continue;
    TORCH_CHECK(p.scalar_type() == torch::kFloat32,
                "data-parallel gradients are float32; parameter ", k, " is ", p.scalar_type());
    const int64_t bytes = p.numel() * int64_t(sizeof(float));
    if (buckets_.empty() || (filled > 0 && filled + bytes > cap)) {
      if (!buckets_.empty()) cap = options_.bucket_bytes;
      buckets_.emplace_back();
      filled = 0;
    }
    auto& b = buckets_.back();
    where_[k] = {buckets_.size() - 1, b.parameters.size()};
    b.offsets.push_back(
        b.parameters.empty() ? 0 : b.offsets.back() + parameters_[b.parameters.back()].numel());
    b.parameters.push_back(k);
    filled += bytes;
  }
  for (auto& b : buckets_) {
    const auto& last = parameters_[b.parameters.back()];
    b.flat = torch::zeros({b.offsets.back() + last.numel()}, last.options());
  }
  for (size_t k = 0; k < parameters_.size(); ++k) {
    if (!parameters_[k].requires_grad()) continue;
    hooks_.push_back(parameters_[k].register_hook(
        [this, k](const torch::Tensor& grad) { on_gradient(k, grad); }));
  }
}

BucketedAllReduce::~BucketedAllReduce() {
  size_t h = 0;
  for (auto& p : parameters_)
    if (p.requires_grad() && h < hooks_.size()) p.remove_hook(hooks_[h++]);
}

void BucketedAllReduce::on_gradient(size_t parameter, const torch::Tensor& grad) {
  auto [bucket_index, slot] = where_[parameter];
  auto& b = buckets_[bucket_index];
  torch::NoGradGuard no_grad;
  b.flat.narrow(0, b.offsets[slot], grad.numel()).copy_(grad.reshape(-1));
  if (!got_gradient_[parameter]) {
    got_gradient_[parameter] = true;
    ++b.ready;
  }
  if (options_.overlap && b.ready == b.parameters.size()) launch(b);
}

void BucketedAllReduce::launch(Bucket& bucket) {
  if (bucket.pending.launched()) return;
  bucket.pending = group_->allreduce_sum({bucket.flat});
}

void BucketedAllReduce::before_backward(torch::Tensor step_values) {
  for (auto& b : buckets_) b.ready = 0;
  got_gradient_.assign(parameters_.size(), false);
  values_pending_ = group_->allreduce_sum({std::move(step_values)});
}

void BucketedAllReduce::after_backward() {
  torch::NoGradGuard no_grad;
  const auto t0 = std::chrono::steady_clock::now();
  // Parameters without a gradient this step (unused) contribute zeros; every rank launches the
  // same buckets in the same order.
  for (auto& b : buckets_) {
    if (b.pending.launched()) continue;
    for (size_t s = 0; s < b.parameters.size(); ++s)
      if (!got_gradient_[b.parameters[s]])
        b.flat.narrow(0, b.offsets[s], parameters_[b.parameters[s]].numel()).zero_();
    launch(b);
  }
  values_pending_.wait();
  const double scale = 1.0 / double(group_->size());
  for (auto& b : buckets_) {
    b.pending.wait();
    b.flat.mul_(scale);
    for (size_t s = 0; s < b.parameters.size(); ++s) {
      auto& p = parameters_[b.parameters[s]];
      if (!got_gradient_[b.parameters[s]]) continue;  // stays undefined, as in one process
      p.mutable_grad().copy_(b.flat.narrow(0, b.offsets[s], p.numel()).view_as(p));
    }
  }
  last_wait_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void broadcast_from_rank0(ProcessGroup& group, torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> tensors;
  for (auto& p : module.parameters(true)) tensors.push_back(p);
  for (auto& b : module.buffers(true)) tensors.push_back(b);
  std::vector<torch::Tensor> pieces;
  for (auto& t : tensors) pieces.push_back(t.detach().to(torch::kFloat64).reshape(-1));
  if (pieces.empty()) return;
  auto flat = torch::cat(pieces);  // float64 holds float32 and int64 counters exactly enough
  group.broadcast(flat, 0);
  int64_t offset = 0;
  for (auto& t : tensors) {
    t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()).to(t.scalar_type()));
    offset += t.numel();
  }
}

}  // namespace ddpm

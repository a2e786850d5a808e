#include "models/norm_layer.h"

#include <fmt/format.h>

#include <stdexcept>

#include "models/batch_statistics.h"
#include "models/group_norm_act.h"
#include "models/precision.h"

namespace ddpm {

NormOptions norm_options(const UNetConfig& c) {
  NormOptions o;
  o.type = c.norm;
  o.num_groups = c.norm_num_groups;
  o.eps = c.norm_eps;
  o.momentum = c.batch_norm_momentum;
  return o;
}

NormLayer::NormLayer(torch::nn::Module& parent, const std::string& name, const NormOptions& options,
                     int64_t channels) {
  if (options.type == NormType::group) {
    if (options.num_groups < 1 || channels % options.num_groups != 0)
      throw std::invalid_argument(fmt::format(
          "{}: GroupNorm needs the {} channels divisible by norm_num_groups, got {} groups", name,
          channels, options.num_groups));
    group_ = parent.register_module(
        name, torch::nn::GroupNorm(
                  torch::nn::GroupNormOptions(options.num_groups, channels).eps(options.eps)));
    groups_ = options.num_groups;
    eps_ = options.eps;
  } else {
    batch_ = parent.register_module(
        name, torch::nn::BatchNorm2d(torch::nn::BatchNormOptions(channels)
                                         .eps(options.eps)
                                         .momentum(options.momentum)
                                         .affine(options.type == NormType::batch_affine)));
  }
}

torch::Tensor NormLayer::forward(const torch::Tensor& x, const torch::Tensor& channel_bias,
                                 bool silu) {
  if (!group_.is_empty())
    return group_norm_act(x, channel_bias, group_->weight, group_->bias, groups_, eps_, silu);
  auto h = channel_bias.defined() ? x + channel_bias.unsqueeze(-1).unsqueeze(-1) : x;
  const auto& sync = batch_statistics_all_reduce();
  if (sync && batch_->is_training())  // SyncBatchNorm across data-parallel ranks
    h = synchronized_batch_norm(float32_if_reduced(h), batch_, sync);
  else
    h = batch_->forward(float32_if_reduced(h));  // float32 statistics under autocast
  return silu ? torch::silu(h) : h;
}

torch::Tensor NormLayer::forward_concat(const torch::Tensor& x1, const torch::Tensor& x2,
                                        bool silu) {
  if (!group_.is_empty())
    return group_norm_act_concat(x1, x2, group_->weight, group_->bias, groups_, eps_, silu);
  return forward(torch::cat({x1, x2}, 1), {}, silu);
}

}  // namespace ddpm

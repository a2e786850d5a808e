#include "models/unet_blocks.h"

namespace ddpm {

DownBlock2DImpl::DownBlock2DImpl(const DownBlockOptions& o)
    : skip_after_downsample_(o.skip_after_downsample) {
  // diffusers registers attentions before resnets in the Attn blocks; the order only affects
  // how named_parameters() lists them, never the names.
  if (o.attention) attentions = register_module("attentions", torch::nn::ModuleList());
  resnets = register_module("resnets", torch::nn::ModuleList());
  for (const auto& r : o.resnets) {
    resnet_list_.push_back(ResnetBlock2D(r));
    resnets->push_back(resnet_list_.back());
    if (o.attention) {
      auto a = *o.attention;
      a.channels = r.out_channels;
      attention_list_.push_back(Attention(a));
      attentions->push_back(attention_list_.back());
    }
  }
  if (o.downsample) {
    downsample_ = Downsample2D(o.downsample->channels, o.downsample->kind, o.downsample->padding);
    downsamplers = register_module("downsamplers", torch::nn::ModuleList(downsample_));
  }
}

torch::Tensor DownBlock2DImpl::forward(torch::Tensor h, const torch::Tensor& temb,
                                       std::vector<torch::Tensor>& skips) {
  for (size_t j = 0; j < resnet_list_.size(); ++j) {
    h = resnet_list_[j](h, temb);                             // [B, C_out, H, W]
    if (!attention_list_.empty()) h = attention_list_[j](h);  // [B, C_out, H, W]
    skips.push_back(h);
  }
  if (!downsample_.is_empty()) {
    h = downsample_(h);  // [B, C_out, H/2, W/2]
    if (skip_after_downsample_) skips.push_back(h);
  }
  return h;
}

MidBlock2DImpl::MidBlock2DImpl(const MidBlockOptions& o) {
  TORCH_CHECK(!o.resnets.empty(), "the mid block needs at least one resnet");
  if (o.attention) {
    auto a = *o.attention;
    a.channels = o.resnets.front().out_channels;
    attention_ = Attention(a);
    attentions = register_module("attentions", torch::nn::ModuleList(attention_));
  }
  resnets = register_module("resnets", torch::nn::ModuleList());
  for (const auto& r : o.resnets) {
    resnet_list_.push_back(ResnetBlock2D(r));
    resnets->push_back(resnet_list_.back());
  }
}

torch::Tensor MidBlock2DImpl::forward(torch::Tensor h, const torch::Tensor& temb) {
  h = resnet_list_[0](h, temb);                   // [B, C, H, W]
  if (!attention_.is_empty()) h = attention_(h);  // [B, C, H, W]
  for (size_t j = 1; j < resnet_list_.size(); ++j) h = resnet_list_[j](h, temb);
  return h;
}

UpBlock2DImpl::UpBlock2DImpl(const UpBlockOptions& o) : upsample_first_(o.upsample_first) {
  if (o.attention) attentions = register_module("attentions", torch::nn::ModuleList());
  resnets = register_module("resnets", torch::nn::ModuleList());
  for (const auto& r : o.resnets) {
    resnet_list_.push_back(ResnetBlock2D(r));
    resnets->push_back(resnet_list_.back());
    if (o.attention) {
      auto a = *o.attention;
      a.channels = r.out_channels;
      attention_list_.push_back(Attention(a));
      attentions->push_back(attention_list_.back());
    }
  }
  if (o.upsample) {
    upsample_ = Upsample2D(o.upsample->channels, o.upsample->kind);
    upsamplers = register_module("upsamplers", torch::nn::ModuleList(upsample_));
  }
}

torch::Tensor UpBlock2DImpl::forward(torch::Tensor h, const torch::Tensor& temb,
                                     std::vector<torch::Tensor>& skips) {
  if (upsample_first_ && !upsample_.is_empty()) h = upsample_(h);  // [B, C_in, 2H, 2W]
  for (size_t j = 0; j < resnet_list_.size(); ++j) {
    TORCH_CHECK(!skips.empty(), "UpBlock2D: no skip connection left for resnet ", j);
    // On cat({h, skip}, 1) [B, C_h + C_skip, H, W], made only where it must be.
    h = resnet_list_[j]->forward_concat(h, skips.back(), temb);  // [B, C_out, H, W]
    skips.pop_back();
    if (!attention_list_.empty()) h = attention_list_[j](h);  // [B, C_out, H, W]
  }
  if (!upsample_first_ && !upsample_.is_empty()) h = upsample_(h);  // [B, C_out, 2H, 2W]
  return h;
}

}  // namespace ddpm

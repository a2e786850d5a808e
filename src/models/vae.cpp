// diffusers 0.21.4 src/diffusers/models/vae.py (Encoder, Decoder) and unet_2d_blocks.py
// (DownEncoderBlock2D, UpDecoderBlock2D, UNetMidBlock2D with temb_channels None).
#include "models/vae.h"

namespace ddpm {

namespace {

constexpr double kVAENormEps = 1e-6;  // every resnet_eps and GroupNorm in vae.py

NormOptions vae_norm(int64_t groups) {
  NormOptions n;
  n.type = NormType::group;
  n.num_groups = groups;
  n.eps = kVAENormEps;
  return n;
}

ResnetBlockOptions vae_resnet(int64_t in, int64_t out, int64_t groups) {
  ResnetBlockOptions r;
  r.in_channels = in;
  r.out_channels = out;
  r.temb_channels = 0;  // temb_channels=None: no time_emb_proj
  r.style = UNetLayout::diffusers;
  r.norm = vae_norm(groups);
  return r;
}

// UNetMidBlock2D(attention_head_dim = channels): resnet, a one-head attention, resnet.
MidBlock2D vae_mid_block(int64_t channels, int64_t groups) {
  MidBlockOptions m;
  m.resnets = {vae_resnet(channels, channels, groups), vae_resnet(channels, channels, groups)};
  AttentionOptions a;
  a.channels = channels;
  a.head_dim = 0;  // heads = channels // attention_head_dim = 1
  a.norm = vae_norm(groups);
  m.attention = a;
  return MidBlock2D(m);
}

torch::nn::Conv2d conv3x3(int64_t in, int64_t out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1));
}

}  // namespace

CoderLevelImpl::CoderLevelImpl(int64_t in_channels, int64_t out_channels, int64_t count,
                               int64_t groups, Resample resample) {
  resnets = register_module("resnets", torch::nn::ModuleList());
  for (int64_t j = 0; j < count; ++j) {
    resnet_list_.push_back(
        ResnetBlock2D(vae_resnet(j == 0 ? in_channels : out_channels, out_channels, groups)));
    resnets->push_back(resnet_list_.back());
  }
  if (resample == Resample::down) {
    // Downsample2D(use_conv=True, padding=downsample_padding=0): pad (0, 1, 0, 1), stride-2 conv.
    down_ = Downsample2D(out_channels, Downsampling::conv, /*padding=*/0);
    downsamplers = register_module("downsamplers", torch::nn::ModuleList(down_));
  } else if (resample == Resample::up) {
    up_ = Upsample2D(out_channels, Upsampling::nearest);
    upsamplers = register_module("upsamplers", torch::nn::ModuleList(up_));
  }
}

torch::Tensor CoderLevelImpl::forward(torch::Tensor h) {
  for (auto& r : resnet_list_) h = r(h, torch::Tensor());  // [B, out, H, W]
  if (!down_.is_empty()) h = down_(h);                     // [B, out, H/2, W/2]
  if (!up_.is_empty()) h = up_(h);                         // [B, out, 2H, 2W]
  return h;
}

VAEEncoderImpl::VAEEncoderImpl(const AutoencoderConfig& c, bool double_z) {
  const auto& widths = c.block_out_channels;
  const auto levels = int64_t(widths.size());
  conv_in = register_module("conv_in", conv3x3(c.in_channels, widths[0]));
  down_blocks = register_module("down_blocks", torch::nn::ModuleList());
  int64_t channels = widths[0];
  for (int64_t i = 0; i < levels; ++i) {
    const bool last = i == levels - 1;
    levels_.push_back(
        CoderLevel(channels, widths[i], c.layers_per_block, c.norm_num_groups,
                   last ? CoderLevelImpl::Resample::none : CoderLevelImpl::Resample::down));
    down_blocks->push_back(levels_.back());
    channels = widths[i];
  }
  mid_block = register_module("mid_block", vae_mid_block(channels, c.norm_num_groups));
  conv_norm_out_ = NormLayer(*this, "conv_norm_out", vae_norm(c.norm_num_groups), channels);
  conv_out = register_module(
      "conv_out", conv3x3(channels, double_z ? 2 * c.latent_channels : c.latent_channels));
}

torch::Tensor VAEEncoderImpl::forward(const torch::Tensor& x) {
  auto h = conv_in(x);                       // [B, w0, S, S]
  for (auto& level : levels_) h = level(h);  // [B, w_last, S/f, S/f]
  h = mid_block(h, torch::Tensor());         // [B, w_last, S/f, S/f]
  h = conv_norm_out_.forward(h, {}, /*silu=*/true);
  return conv_out(h);  // [B, (2·)latent, S/f, S/f]
}

VAEDecoderImpl::VAEDecoderImpl(const AutoencoderConfig& c) {
  const auto& widths = c.block_out_channels;
  const auto levels = int64_t(widths.size());
  conv_in = register_module("conv_in", conv3x3(c.latent_channels, widths.back()));
  mid_block = register_module("mid_block", vae_mid_block(widths.back(), c.norm_num_groups));
  up_blocks = register_module("up_blocks", torch::nn::ModuleList());
  int64_t channels = widths.back();
  for (int64_t i = 0; i < levels; ++i) {
    const int64_t out = widths[levels - 1 - i];  // reversed(block_out_channels)
    const bool last = i == levels - 1;
    levels_.push_back(
        CoderLevel(channels, out, c.layers_per_block + 1, c.norm_num_groups,
                   last ? CoderLevelImpl::Resample::none : CoderLevelImpl::Resample::up));
    up_blocks->push_back(levels_.back());
    channels = out;
  }
  conv_norm_out_ = NormLayer(*this, "conv_norm_out", vae_norm(c.norm_num_groups), channels);
  conv_out = register_module("conv_out", conv3x3(channels, c.out_channels));
}

torch::Tensor VAEDecoderImpl::forward(const torch::Tensor& z) {
  auto h = conv_in(z);                       // [B, w_last, s, s]
  h = mid_block(h, torch::Tensor());         // [B, w_last, s, s]
  for (auto& level : levels_) h = level(h);  // [B, w0, s·f, s·f]
  h = conv_norm_out_.forward(h, {}, /*silu=*/true);
  return conv_out(h);  // [B, out_channels, s·f, s·f]
}

}  // namespace ddpm

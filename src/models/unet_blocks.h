// The level blocks of the UNet: containers that run resnets, attentions and a resampler in the
// order of diffusers 0.21.4 DownBlock2D / AttnDownBlock2D, UNetMidBlock2D and UpBlock2D /
// AttnUpBlock2D (src/diffusers/models/unet_2d_blocks.py), or of the Keras DDIM example's
// DownBlock / UpBlock (A. Béres, keras.io/examples/generative/ddim). unet.cpp decides the
// channel counts; the names (resnets.j, attentions.j, downsamplers.0, upsamplers.0) are the
// diffusers state-dict keys.
#pragma once
#include <torch/torch.h>

#include <optional>
#include <vector>

#include "models/attention.h"
#include "models/resnet_block.h"
#include "models/sampling_layers.h"

namespace ddpm {

struct DownsampleOptions {
  int64_t channels = 0;
  Downsampling kind = Downsampling::conv;
  int64_t padding = 1;
};

struct UpsampleOptions {
  int64_t channels = 0;
  Upsampling kind = Upsampling::nearest;
};

struct DownBlockOptions {
  std::vector<ResnetBlockOptions> resnets;
  std::optional<AttentionOptions> attention;  ///< one after every resnet when set
  std::optional<DownsampleOptions> downsample;
  /// diffusers pushes the downsampler's output as a skip too; Keras does not.
  bool skip_after_downsample = true;
};

struct MidBlockOptions {
  std::vector<ResnetBlockOptions> resnets;    ///< diffusers: 2; keras: block_depth
  std::optional<AttentionOptions> attention;  ///< after the first resnet when set
};

struct UpBlockOptions {
  std::vector<ResnetBlockOptions> resnets;  ///< each takes cat(h, popped skip)
  std::optional<AttentionOptions> attention;
  std::optional<UpsampleOptions> upsample;
  /// Keras upsamples before its resnets; diffusers after.
  bool upsample_first = false;
};

class DownBlock2DImpl : public torch::nn::Module {
 public:
  explicit DownBlock2DImpl(const DownBlockOptions& options);
  /// h [B, C_in, H, W] → [B, C_out, H', W']; pushes every resnet(+attention) output and, when
  /// configured, the downsampler's output onto `skips`.
  torch::Tensor forward(torch::Tensor h, const torch::Tensor& temb,
                        std::vector<torch::Tensor>& skips);

 private:
  bool skip_after_downsample_;
  torch::nn::ModuleList resnets, attentions, downsamplers;
  std::vector<ResnetBlock2D> resnet_list_;
  std::vector<Attention> attention_list_;
  Downsample2D downsample_{nullptr};
};
TORCH_MODULE(DownBlock2D);

class MidBlock2DImpl : public torch::nn::Module {
 public:
  explicit MidBlock2DImpl(const MidBlockOptions& options);
  /// [B, C, H, W] → [B, C, H, W]
  torch::Tensor forward(torch::Tensor h, const torch::Tensor& temb);

 private:
  torch::nn::ModuleList attentions, resnets;
  std::vector<ResnetBlock2D> resnet_list_;
  Attention attention_{nullptr};
};
TORCH_MODULE(MidBlock2D);

class UpBlock2DImpl : public torch::nn::Module {
 public:
  explicit UpBlock2DImpl(const UpBlockOptions& options);
  /// h [B, C_in, H, W] → [B, C_out, H', W']; pops one skip per resnet from the back of `skips`.
  torch::Tensor forward(torch::Tensor h, const torch::Tensor& temb,
                        std::vector<torch::Tensor>& skips);

 private:
  bool upsample_first_;
  torch::nn::ModuleList attentions, resnets, upsamplers;
  std::vector<ResnetBlock2D> resnet_list_;
  std::vector<Attention> attention_list_;
  Upsample2D upsample_{nullptr};
};
TORCH_MODULE(UpBlock2D);

}  // namespace ddpm

// UNet: the noise-prediction network, one configurable module for the DDPM/diffusers layout
// (diffusers 0.21.4 UNet2DModel, src/diffusers/models/unet_2d.py; Ho et al. 2020, Appendix B)
// and the Keras DDIM example's layout (A. Béres, keras.io/examples/generative/ddim, get_network).
// Module names are diffusers' state-dict keys (conv_in, time_embedding.linear_1,
// down_blocks.0.resnets.0.norm1, ..., conv_norm_out, conv_out), so diffusers weights load name
// for name (models/state_dict.h).
//
//   UNet model(model_preset("fashion-mnist"));              // models/presets.h
//   auto c = conditioning_for(model->config(), schedule, t);  // models/denoiser.h
//   torch::Tensor eps = model->forward(x_t, c);              // [B, C, H, W]
//   eps = conditional->forward(x_t, c, labels);              // labels [B] int64
//   (class-conditional)
#pragma once
#include <torch/torch.h>

#include "models/embeddings.h"
#include "models/norm_layer.h"
#include "models/unet_blocks.h"
#include "models/unet_config.h"

namespace ddpm {

class UNetImpl : public torch::nn::Module {
 public:
  /// Validates the config (std::invalid_argument) and builds the modules with LibTorch's default
  /// initialisation (from torch's global RNG: seed it for identical weights).
  explicit UNetImpl(const UNetConfig& config);

  /// x [B, in_channels, H, W] float; c [B] (or a scalar / [1], broadcast) conditioning values,
  /// the timestep t or the noise variance 1 − ᾱ_t per config.conditioning (see
  /// conditioning_for). H and W must be divisible by 2^(levels − 1). class_labels [B] int64 in
  /// [0, num_class_embeds) for a class-conditional model, undefined otherwise (checked:
  /// check_class_labels throws std::invalid_argument). → [B, out_channels, H, W]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& c,
                        const torch::Tensor& class_labels = {});

  const UNetConfig& config() const { return config_; }

 private:
  UNetConfig config_;
  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  TimestepEmbedding time_embedding{nullptr};
  /// diffusers class_embedding: an nn.Embedding (class_embed_type null) or a TimestepEmbedding
  /// ("timestep"); one of the two is set when num_class_embeds > 0.
  torch::nn::Embedding class_embedding_table_{nullptr};
  TimestepEmbedding class_embedding_mlp_{nullptr};
  torch::nn::ModuleList down_blocks, up_blocks;
  MidBlock2D mid_block{nullptr};
  NormLayer conv_norm_out_;
  std::vector<DownBlock2D> down_list_;
  std::vector<UpBlock2D> up_list_;
};
TORCH_MODULE(UNet);

}  // namespace ddpm

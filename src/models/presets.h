// Named UNet architectures. A preset is a plain function returning a UNetConfig; the trainer
// then sets in_channels, out_channels and sample_size from the data.
//
//   ddpm-cifar10   google/ddpm-cifar10-32 (Ho et al. 2020, CIFAR-10 model, 35.7M parameters)
//   keras-ddim     the Keras DDIM example (A. Béres): widths 32/64/96/128, block_depth 2
//   bk             = keras-ddim (the study's baseline name)
//   bbno           keras-ddim with the DDPM positional embedding of t, 3×3 conv_in, norm + SiLU
//                  before conv_out
//   bbano          bbno with affine BatchNorm
//   bgano          bbano with GroupNorm (8 groups)
//   fashion-mnist  the project default: small diffusers-layout UNet (16/32/64/96) for 32×32×1
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "models/unet_config.h"

namespace ddpm {

/// The preset's config; throws std::invalid_argument listing the allowed names.
UNetConfig model_preset(const std::string& name);

/// Every preset name, in a fixed order.
std::vector<std::string> model_preset_names();

/// Number of trainable parameter elements (buffers such as BatchNorm statistics excluded).
int64_t count_parameters(const torch::nn::Module& module);

}  // namespace ddpm

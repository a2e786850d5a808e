// Module weights ↔ named tensors. Names are the module paths
// (down_blocks.0.resnets.0.norm1.weight), so a checkpoint written here and a diffusers checkpoint
// load the same way: name for name.
#pragma once
#include <torch/torch.h>

#include "io/safetensors.h"

namespace ddpm {

/// Parameters and buffers by name, detached (sharing storage with the module).
TensorMap state_dict(const torch::nn::Module& module);

/// Copies `tensors` into the module's parameters and buffers. Every name must match and every
/// shape must agree: a missing, extra or mis-shaped key throws naming it (and `origin`).
void load_state_dict(torch::nn::Module& module, const TensorMap& tensors,
                     const std::string& origin);

}  // namespace ddpm

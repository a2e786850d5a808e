// Converting the state dict of another codebase's UNet into this project's names (diffusers'
// UNet2DModel spelling), module by module, with the tensor transforms their layouts need. Used
// by the papers' own checkpoint formats (runs/ddim_official_format.h,
// runs/improved_diffusion_format.h); each builds the list of its modules from its config.
//
//   std::vector<ModuleMapping> m{{"temb.dense.0", "time_embedding.linear_1"}, ...};
//   TensorMap ours = convert_state_dict(theirs, m, state_dict(*model), "ckpt.pth",
//                                       "ermongroup/ddim's Model");
#pragma once
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace ddpm {

enum class TensorTransform {
  copy,               ///< same layout
  conv1x1_to_linear,  ///< a 1×1 Conv2d / Conv1d weight [O, I, 1(, 1)] → Linear [O, I]
  qkv_split,          ///< improved-diffusion's fused qkv Conv1d → to_q / to_k / to_v
};

struct ModuleMapping {
  std::string from;  ///< module path in the original ("down.1.attn.0.q")
  std::string to;    ///< module path here ("down_blocks.1.attentions.0.to_q"); qkv_split: the
                     ///< attention module ("mid_block.attentions.0")
  TensorTransform transform = TensorTransform::copy;
  int64_t heads = 1;  ///< qkv_split: improved-diffusion's num_heads
};

/// Converts `original` (every module of `mapping` with .weight and .bias) into this project's
/// names and layouts. A key of `original` that no mapping names, a mapped key missing from it, or
/// a tensor whose converted shape differs from `expected`'s (the configured UNet's state dict)
/// throws std::runtime_error naming `origin`, the original key(s) and `format` (the
/// architecture the config describes).
TensorMap convert_state_dict(const TensorMap& original, const std::vector<ModuleMapping>& mapping,
                             const TensorMap& expected, const std::string& origin,
                             const std::string& format);

}  // namespace ddpm

// The diffusers UNet2DModel format: config.json ⇄ UNetConfig and the state-dict spelling of its
// weights (diffusers 0.21.4, src/diffusers/models/unet_2d.py and modeling_utils.py).
//
// A diffusers model folder holds config.json (UNet2DModel's constructor arguments, every key
// written by save_pretrained) and diffusion_pytorch_model.safetensors (the state dict, module
// paths as keys). UNetConfig's diffusers layout is that network with the same field names, so the
// mapping is mostly key for key; the diffusers-only keys (act_fn, time_embedding_type, ...) must
// hold a value this project implements.
//
//   UNetConfig c = unet_config_from_diffusers(json, "model/config.json");  // throws naming the key
//   TensorMap w = convert_legacy_attention_keys(read_safetensors(file).tensors);
//   nlohmann::json out = unet_config_to_diffusers(c);  // after check_diffusers_expressible(c)
#pragma once
#include <nlohmann/json.hpp>

#include <string>

#include "io/safetensors.h"
#include "models/unet_config.h"

namespace ddpm {

/// The diffusers release whose format this project reads and writes (_diffusers_version).
inline constexpr const char* kDiffusersVersion = "0.21.4";

/// UNetConfig (diffusers layout) described by a UNet2DModel config.json. Absent keys take
/// UNet2DModel's 0.21.4 defaults (attention_head_dim absent = 8, null = one head), keys starting
/// with "_" are bookkeeping and ignored, and keys of later releases are accepted where their value
/// means 0.21.4's behaviour. An unknown key, a value this project does not implement (act_fn gelu,
/// time_embedding_type fourier, class embeddings, SkipDownBlock2D, ...) or an invalid
/// architecture throws std::invalid_argument naming `origin`, the key and the allowed values.
UNetConfig unet_config_from_diffusers(const nlohmann::json& config, const std::string& origin);

/// Throws std::invalid_argument naming the reason when diffusers' UNet2DModel cannot express
/// `config` (keras layout, batch norm, input-only injection, noise-variance conditioning,
/// bilinear or average-pool resampling, 1×1 in/out convolutions, no output norm).
void check_diffusers_expressible(const UNetConfig& config);

/// UNet2DModel config.json for `config` with every key diffusers 0.21.4 writes, plus _class_name
/// and _diffusers_version. Calls check_diffusers_expressible first.
nlohmann::json unet_config_to_diffusers(const UNetConfig& config);

/// Renames attention weights of the spelling diffusers used before 0.14 (AttentionBlock: query,
/// key, value, proj_attn) to the current one (to_q, to_k, to_v, to_out.0), as diffusers'
/// ModelMixin._convert_deprecated_attention_blocks does; only keys inside an `attentions.N`
/// module are renamed, everything else passes through. Throws std::invalid_argument when a tensor
/// is present under both spellings.
TensorMap convert_legacy_attention_keys(TensorMap tensors);

}  // namespace ddpm

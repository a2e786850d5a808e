// The checkpoints of openai/improved-diffusion (Nichol & Dhariwal 2021): a folder with a *.pt
// state dict (model*.pt or ema_*.pt, as train_util.py saves them) and args.json holding the
// flags of script_util.model_and_diffusion_defaults() it was trained with (missing keys take
// those defaults). Its UNetModel (unet.py) is diffusers' UNet2DModel with scale-shift time
// modulation, a GroupNorm before the mid attention (attn_norm_num_groups), num_heads attention
// with a fused qkv 1×1 conv (split here into to_q/to_k/to_v, head by head), 2·C outputs when it
// learns its variances, and timesteps rescaled to t·1000/T (rescale_timesteps).
//
//   nlohmann::json args = read_json(dir / "args.json");
//   RunConfig config = improved_diffusion_config(args, "dir/args.json");
//   TensorMap w = improved_diffusion_weights(file, config, expected);
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "io/safetensors.h"
#include "runs/run_config.h"

namespace ddpm {

/// A folder with args.json and at least one *.pt (the layout's marker).
bool is_improved_diffusion_folder(const std::filesystem::path& dir);

/// The state dict of such a folder: its one *.pt besides opt*.pt (the optimizer); with several,
/// the one ema_*.pt (weights ema) or model*.pt (raw). Throws naming the folder and the files when
/// the choice is not unique.
std::filesystem::path improved_diffusion_weights_file(const std::filesystem::path& dir,
                                                      WeightsKind weights);

/// The run config args.json describes: UNetModel as create_model builds it (channel_mult by
/// image_size, attention at image_size // attention_resolutions, 3 channels in, 6 out with
/// learn_sigma), the β schedule (linear or cosine over diffusion_steps), ε or x_0 prediction
/// (predict_xstart), data in [−1, 1], and sampling defaults reproducing improved-diffusion's
/// ddim_sample_loop with timestep_respacing "ddimN" (strided spacing, clip_denoised with ε
/// re-derived from the clipped x̂_0, η 0), DDPM's variance learned_range with learn_sigma (else
/// fixed_large, fixed_small with sigma_small). An unknown key, a bad value, a class-conditional
/// model (not supported yet) or attention whose per-head width differs between levels throws
/// std::invalid_argument naming `origin` and the key.
RunConfig improved_diffusion_config(const nlohmann::json& args, const std::string& origin);

/// The state dict of `file` converted to this project's names, every key checked by name and
/// shape against `expected` (the configured UNet's state dict).
TensorMap improved_diffusion_weights(const std::filesystem::path& file, const RunConfig& config,
                                     int64_t num_heads, const TensorMap& expected);

/// num_heads from args.json (default 4), for improved_diffusion_weights.
int64_t improved_diffusion_num_heads(const nlohmann::json& args);

}  // namespace ddpm

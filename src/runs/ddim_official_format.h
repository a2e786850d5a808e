// The checkpoints of ermongroup/ddim (Song et al.'s DDIM code, and pytorch_diffusion's port of the
// DDPM TensorFlow release): a folder with that repository's config.yml and either ckpt.pth (the
// training list [model, optimizer, epoch, step, ema_shadow] of runners/diffusion.py train) or a
// bare state dict *.ckpt (the released EMA files). The network (models/diffusion.py Model) is
// DDPM's, i.e. diffusers' UNet2DModel as google/ddpm-cifar10-32 configures it: GroupNorm ε 1e-6,
// sin-then-cos embedding with frequency shift 1, down-sampling padded (0, 1, 0, 1), one-head
// attention with 1×1-conv q, k, v; only the names differ, and the 1×1 convs become Linear weights.
//
//   nlohmann::json yml = read_yaml_file(dir / "config.yml");
//   RunConfig config = ddim_official_config(yml, "dir/config.yml");
//   TensorMap w = ddim_official_weights(dir / "ckpt.pth", yml, WeightsKind::ema, expected);
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "io/safetensors.h"
#include "runs/run_config.h"

namespace ddpm {

/// A folder with config.yml (the layout's marker).
bool is_ddim_official_folder(const std::filesystem::path& dir);

/// The weights file of such a folder: ckpt.pth, else the one *.ckpt; throws naming the folder
/// when there is none or more than one candidate.
std::filesystem::path ddim_official_weights_file(const std::filesystem::path& dir);

/// The run config config.yml describes: the UNet (model.ch, ch_mult, num_res_blocks,
/// attn_resolutions, dropout, in_channels, out_ch; data.image_size, channels), the β schedule
/// (diffusion.*, functions get_beta_schedule), data in [−1, 1], and sampling defaults reproducing
/// the repository's own sampler: DDIM (generalized_steps) over range(0, T, T // N), η 0, no x̂_0
/// clipping, DDPM's variance from model.var_type. A missing key, a value the repository does not
/// have or this project cannot run, or a contradiction (model.in_channels ≠ data.channels, an
/// attention resolution no level has, ...) throws std::invalid_argument naming `origin` and the
/// key.
RunConfig ddim_official_config(const nlohmann::json& yml, const std::string& origin);

/// The weights of `file` converted to this project's names: from a ckpt.pth training list the EMA
/// shadow (its last entry) when `weights` is ema and config.yml's model.ema is true (as
/// runners/diffusion.py sample does), else the model's state dict (entry 0, keys without
/// DataParallel's "module." prefix); from a *.ckpt the state dict itself. Every key is checked
/// against the architecture (`expected`: the configured UNet's state dict), by name and shape.
TensorMap ddim_official_weights(const std::filesystem::path& file, const nlohmann::json& yml,
                                WeightsKind weights, const TensorMap& expected);

}  // namespace ddpm

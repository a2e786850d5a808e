// Autoencoders in diffusers 0.21.4's model-folder layout: config.json (AutoencoderKL's or
// VQModel's constructor arguments, src/diffusers/models/autoencoder_kl.py and vq_model.py) and
// diffusion_pytorch_model.safetensors (the state dict by module path; the attention weights in
// either spelling, as for the UNet).
//
//   AutoencoderConfig c = autoencoder_config_from_diffusers(json, "vae/config.json");
//   Autoencoder ae = load_autoencoder("pipeline/vae", torch::kCPU);   // eval mode
//   save_autoencoder(ae, "export/vae");                               // the same layout
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "models/autoencoder.h"

namespace ddpm {

/// The diffusers class names of the two kinds.
const char* diffusers_class_name(AutoencoderKind kind);

/// AutoencoderConfig described by an AutoencoderKL or VQModel config.json; the kind comes from
/// _class_name (absent: VQModel when num_vq_embeddings is present, else AutoencoderKL). Absent
/// keys take that class's 0.21.4 defaults; an unknown key, a block type other than
/// DownEncoderBlock2D / UpDecoderBlock2D, act_fn other than silu, norm_type spatial or an invalid
/// architecture throws std::invalid_argument naming `origin` and the key.
AutoencoderConfig autoencoder_config_from_diffusers(const nlohmann::json& config,
                                                    const std::string& origin);

/// The config.json diffusers 0.21.4 writes for `config` (every key, _class_name and
/// _diffusers_version included).
nlohmann::json autoencoder_config_to_diffusers(const AutoencoderConfig& config);

/// Whether `dir` holds a diffusers autoencoder (config.json with _class_name AutoencoderKL or
/// VQModel).
bool is_diffusers_autoencoder(const std::filesystem::path& dir);

/// The autoencoder folder `path` names: `path` itself, or its autoencoder/ (a finished ddpm
/// train-autoencoder run, a latent diffusion run), vae/ or vqvae/ (a latent pipeline). Throws
/// std::runtime_error naming the path and what was expected.
std::filesystem::path find_autoencoder_folder(const std::filesystem::path& path);

/// Builds the autoencoder `dir/config.json` describes and loads
/// `dir/diffusion_pytorch_model.safetensors`, every tensor checked by name and shape; moved to
/// `device`, eval mode. Throws std::runtime_error naming the file and the fault.
Autoencoder load_autoencoder(const std::filesystem::path& dir, const torch::Device& device);

/// Writes `dir/config.json` and `dir/diffusion_pytorch_model.safetensors` (atomically; `dir` is
/// created). The weights are written from the CPU as float32.
void save_autoencoder(Autoencoder& autoencoder, const std::filesystem::path& dir);

}  // namespace ddpm

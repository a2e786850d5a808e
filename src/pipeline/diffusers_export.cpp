#include "pipeline/diffusers_export.h"

#include <stdexcept>

#include "io/atomic_file.h"
#include "models/state_dict.h"
#include "models/unet.h"
#include "runs/autoencoder_format.h"
#include "runs/diffusers_format.h"
#include "runs/scheduler_config.h"

namespace ddpm {

namespace fs = std::filesystem;

namespace {

void require_new_folder(const fs::path& out) {
  if (fs::exists(out) && (!fs::is_directory(out) || !fs::is_empty(out)))
    throw std::runtime_error(out.string() +
                             (fs::is_directory(out) ? ": folder is not empty" : ": is a file") +
                             "; export writes into a new or empty folder");
}

}  // namespace

void export_diffusers(const RunConfig& config, const TensorMap& weights, const fs::path& out) {
  const nlohmann::json unet = unet_config_to_diffusers(config.model);
  const nlohmann::json scheduler = scheduler_config_to_diffusers(config);
  // The weights must be this architecture's, name for name and shape for shape: loading them
  // into a fresh model runs every check load_model runs.
  TensorMap f32;
  {
    UNet probe(config.model);
    load_state_dict(*probe, weights, "export");
    for (const auto& [name, tensor] : weights)
      f32[name] = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  }
  require_new_folder(out);
  fs::create_directories(out);
  write_file_atomic(out / "config.json", unet.dump(2) + "\n");
  write_safetensors(out / "diffusion_pytorch_model.safetensors", f32, {{"format", "pt"}});
  write_file_atomic(out / "scheduler_config.json", dump_python_json(scheduler, 2) + "\n");
  sync_directory(out);
}

void export_latent_pipeline(const RunConfig& config, const TensorMap& weights, const Codec& codec,
                            const fs::path& out) {
  if (!codec.is_latent())
    throw std::invalid_argument("export_latent_pipeline: the model works on pixels");
  require_new_folder(out);
  Autoencoder autoencoder = codec.autoencoder();
  autoencoder->set_scaling_factor(codec.latent_scale());
  export_diffusers(config, weights, out / "unet");
  fs::create_directories(out / "scheduler");
  fs::rename(out / "unet" / "scheduler_config.json", out / "scheduler" / "scheduler_config.json");
  save_autoencoder(autoencoder, out / "vae");
  const nlohmann::json index{
      {"_class_name", "DiffusionPipeline"},
      {"_diffusers_version", kDiffusersVersion},
      {"scheduler", {"diffusers", scheduler_config_to_diffusers(config)["_class_name"]}},
      {"unet", {"diffusers", "UNet2DModel"}},
      {"vae", {"diffusers", diffusers_class_name(autoencoder->config().kind)}}};
  write_file_atomic(out / "model_index.json", index.dump(2) + "\n");
  sync_directory(out);
}

}  // namespace ddpm

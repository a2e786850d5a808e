// ddpm export: write a model as a folder another library loads (diffusers UNet2DModel).
#include <fmt/format.h>

#include "commands.h"
#include "enum_choices.h"
#include "model_option.h"
#include "models/state_dict.h"
#include "pipeline/diffusers_export.h"
#include "runs/scheduler_config.h"
#include "sampler_flags.h"

namespace ddpm::cli {

namespace {

struct ExportFlags {
  std::string model;
  std::string format;
  std::string out;
  std::string weights;  ///< "" = ema
  std::shared_ptr<SamplerFlags> sampler;
};

}  // namespace

Run add_export(CLI::App& app) {
  auto flags = std::make_shared<ExportFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand("export", "Write a model in another library's format");
  cmd->footer(
      "--format diffusers writes config.json, diffusion_pytorch_model.safetensors and "
      "scheduler_config.json, which diffusers' UNet2DModel.from_pretrained and "
      "the scheduler class of the run's sampler (or --sampler's) reads with from_pretrained "
      "(diffusers layout, GroupNorm, timestep "
      "conditioning only). A latent model is written as a pipeline folder: model_index.json, "
      "unet/, scheduler/ and vae/ (its autoencoder), which ddpm reads back as "
      "vae.decode(latents / scaling_factor).");
  cmd->add_option("--model", f.model, kModelHelp)->required();
  cmd->add_option("--format", f.format, "diffusers")
      ->required()
      ->check(CLI::IsMember({"diffusers"}));
  cmd->add_option("--out", f.out, "Folder to create (must be new or empty)")->required();
  cmd->add_option("--weights", f.weights, kWeightsHelp)->check(enum_choices<WeightsKind>());
  f.sampler = add_sampler_flags(*cmd, "the run's");

  return [flags]() -> int {
    auto& f = *flags;
    auto loaded = load_model_option(f.model, f.weights, torch::kCPU);
    fmt::print("model: {}\n", describe(loaded, f.weights));
    // The papers' formats sample with their own grids (uniform, strided), which no diffusers
    // scheduler has; they export as DDPMScheduler, as google/ddpm-cifar10-32 ships, which also
    // carries improved DDPM's variance_type learned_range.
    const bool original = loaded.layout == ModelLayout::ddim_official ||
                          loaded.layout == ModelLayout::improved_diffusion;
    loaded.config.sampling.sampler = resolve_sampler(
        loaded.config.sampling.sampler, *f.sampler, loaded.schedule.num_train_timesteps,
        original ? nlohmann::json{{"sampler", "ddpm"}, {"timestep_spacing", "leading"}}
                 : nlohmann::json::object());
    if (loaded.codec.is_latent()) {
      export_latent_pipeline(loaded.config, state_dict(*loaded.model), loaded.codec, f.out);
      fmt::print(
          "wrote a latent pipeline folder (unet/, scheduler/, vae/, model_index.json) to "
          "{}\n",
          f.out);
      return 0;
    }
    export_diffusers(loaded.config, state_dict(*loaded.model), f.out);
    fmt::print(
        "wrote a diffusers UNet2DModel folder to {} (load it with "
        "UNet2DModel.from_pretrained and {}.from_pretrained)\n",
        f.out, scheduler_config_to_diffusers(loaded.config)["_class_name"].get<std::string>());
    return 0;
  };
}

}  // namespace ddpm::cli

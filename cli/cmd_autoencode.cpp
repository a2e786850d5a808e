// ddpm autoencode: an autoencoder's latents and reconstruction of given images, written as
// tensors, to compare with diffusers' AutoencoderKL / VQModel value for value.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.h"
#include "io/safetensors.h"
#include "pipeline/autoencode.h"
#include "runs/autoencoder_format.h"
#include "runs/model_loading.h"  // parse_device
#include "runs/threads.h"

namespace ddpm::cli {

namespace {

struct AutoencodeFlags {
  std::string model;
  std::string input;
  std::string save_tensor;
  int64_t batch_size = 16;
  std::string device = "auto";
  int64_t threads = 0;
};

}  // namespace

Run add_autoencode(CLI::App& app) {
  auto flags = std::make_shared<AutoencodeFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand(
      "autoencode", "Encode and decode images with an autoencoder and save every tensor");
  cmd->footer(
      "--input holds x (float [B, C, H, W] in [-1, 1]). --save-tensor receives, for an "
      "AutoencoderKL, latent_mean, latent_logvar and reconstruction (the decode of the mean); for "
      "a VQModel, latents (encoder + quant_conv), quantized and reconstruction. All float32.");
  cmd->add_option("--model", f.model,
                  "An AutoencoderKL or VQModel folder (config.json + "
                  "diffusion_pytorch_model.safetensors), or a latent model (a pipeline with vae/ "
                  "or vqvae/, a latent run): its autoencoder")
      ->required();
  cmd->add_option("--input", f.input, "safetensors file with tensor x")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--save-tensor", f.save_tensor, "safetensors file to write the tensors to")
      ->required();
  cmd->add_option("--batch-size", f.batch_size, "Images per autoencoder call")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--device", f.device, "auto, cpu, cuda or cuda:N");
  cmd->add_option("--threads", f.threads, "CPU threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);

  return [flags]() -> int {
    auto& f = *flags;
    configure_cpu_threads(f.threads);
    const auto device = parse_device(f.device);
    auto ae = load_autoencoder(find_autoencoder_folder(f.model), device);
    const auto& c = ae->config();
    const auto x = read_autoencode_input(f.input, c);
    const auto shape = latent_shape(c);
    fmt::print("autoencoder: {} {} ({}x downsampling, {} latent channels) on {}\n",
               diffusers_class_name(c.kind), f.model, downsample_factor(c), shape[0], device.str());
    const auto out = autoencode(ae, x, f.batch_size);
    write_safetensors(f.save_tensor, out);
    std::vector<std::string> written;
    for (const auto& [name, t] : out)
      written.push_back(fmt::format("{} [{}]", name, fmt::join(t.sizes(), ", ")));
    fmt::print("wrote {} to {}\n", fmt::join(written, ", "), f.save_tensor);
    return 0;
  };
}

}  // namespace ddpm::cli

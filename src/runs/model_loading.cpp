// Folder layouts: ours (runs/checkpoint.h) and diffusers' (ModelMixin.save_pretrained writes
// config.json + diffusion_pytorch_model.safetensors; DiffusionPipeline.save_pretrained writes
// model_index.json and one subfolder per component, diffusers 0.21.4 pipeline_utils.py).
#include "runs/model_loading.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>

#include "io/python_json.h"
#include "io/yaml.h"
#include "models/state_dict.h"
#include "runs/autoencoder_format.h"
#include "runs/checkpoint.h"
#include "runs/ddim_official_format.h"
#include "runs/diffusers_format.h"
#include "runs/improved_diffusion_format.h"
#include "runs/scheduler_config.h"

namespace ddpm {

namespace fs = std::filesystem;

template <>
const EnumTable<ModelLayout>& enum_table<ModelLayout>() {
  static const EnumTable<ModelLayout> table{
      "model layout",
      {{ModelLayout::run_directory, "run directory"},
       {ModelLayout::checkpoint, "checkpoint folder"},
       {ModelLayout::diffusers_model, "diffusers model folder"},
       {ModelLayout::diffusers_pipeline, "diffusers pipeline folder"},
       {ModelLayout::ddim_official, "ermongroup/ddim folder"},
       {ModelLayout::improved_diffusion, "improved-diffusion folder"}}};
  return table;
}

namespace {

constexpr const char* kDiffusersWeights = "diffusion_pytorch_model.safetensors";

const char* kAcceptedLayouts =
    "accepted: a run directory (config.json + checkpoints/latest/), a checkpoint folder "
    "(state.json + model.safetensors), a diffusers model folder (config.json + "
    "diffusion_pytorch_model.safetensors [+ scheduler_config.json]), a diffusers pipeline "
    "folder (model_index.json + unet/ + scheduler/), an ermongroup/ddim folder (config.yml + "
    "ckpt.pth or *.ckpt) or an improved-diffusion folder (args.json + *.pt)";

struct Located {
  ModelLayout layout = ModelLayout::run_directory;
  fs::path config;     ///< our config.json, or the diffusers UNet2DModel config.json
  fs::path folder;     ///< our checkpoint folder, or the diffusers model folder
  fs::path scheduler;  ///< diffusers scheduler_config.json, empty when none
  /// A latent model's autoencoder folder (a pipeline's vqvae/ or vae/), empty for pixel models.
  fs::path autoencoder;
  /// Whether latents are scaled by the autoencoder's scaling_factor: the vae of the Stable
  /// Diffusion layout yes, LDMPipeline's vqvae no (diffusers 0.21.4 decodes it unscaled).
  bool scaled_latents = false;
};

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot read");
  try {
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return parse_python_json(text);  // diffusers configs may hold -Infinity
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path.string() + ": invalid JSON: " + e.what());
  }
}

bool is_diffusers_model(const fs::path& dir) {
  return fs::is_regular_file(dir / "config.json") && fs::is_regular_file(dir / kDiffusersWeights);
}

/// The scheduler config of a diffusers model folder: beside config.json, in scheduler/, or in
/// the scheduler/ of the pipeline the folder is the unet/ of.
fs::path find_scheduler_config(const fs::path& model_dir) {
  const fs::path parent = fs::absolute(model_dir).lexically_normal().parent_path();
  std::vector<fs::path> candidates{model_dir / "scheduler_config.json",
                                   model_dir / "scheduler" / "scheduler_config.json"};
  if (fs::is_regular_file(parent / "model_index.json"))
    candidates.push_back(parent / "scheduler" / "scheduler_config.json");
  for (const auto& c : candidates)
    if (fs::is_regular_file(c)) return c;
  return {};
}

/// The autoencoder component of a pipeline's model_index.json ("vqvae" as LDMPipeline, "vae" as
/// the Stable Diffusion pipelines), empty when it has none.
struct AutoencoderComponent {
  std::string name;
  std::string class_name;
};

/// Checks a pipeline's model_index.json: a UNet2DModel `unet`, a DDPM/DDIM `scheduler`, and at
/// most one autoencoder (`vqvae` or `vae`, a VQModel or an AutoencoderKL), recognised by the
/// components listed whatever the pipeline's _class_name; no other component (a text encoder,
/// ...).
AutoencoderComponent check_model_index(const fs::path& path) {
  const auto index = read_json(path);
  if (!index.is_object()) throw std::runtime_error(path.string() + ": expected a JSON object");
  std::vector<std::string> others;
  AutoencoderComponent autoencoder;
  for (const auto& [name, entry] : index.items()) {
    if (name.empty() || name[0] == '_') continue;  // _class_name, _diffusers_version, ...
    // Entries are [library, class]; [null, null] marks an optional component left out.
    const bool absent = entry.is_array() && entry.size() == 2 && entry[1].is_null();
    if (absent) continue;
    const std::string cls = entry.is_array() && entry.size() == 2 && entry[1].is_string()
                                ? entry[1].get<std::string>()
                                : entry.dump();
    if (name == "unet") {
      if (cls != "UNet2DModel")
        throw std::runtime_error(path.string() + ": unet is " + cls +
                                 "; only UNet2DModel pipelines are supported");
    } else if (name == "scheduler") {
      if (cls != "DDPMScheduler" && cls != "DDIMScheduler")
        throw std::runtime_error(path.string() + ": scheduler is " + cls +
                                 " (supported: DDPMScheduler, DDIMScheduler)");
    } else if (name == "vqvae" || name == "vae") {
      if (cls != "VQModel" && cls != "AutoencoderKL")
        throw std::runtime_error(path.string() + ": " + name + " is " + cls +
                                 " (supported: VQModel, AutoencoderKL)");
      if (!autoencoder.name.empty())
        throw std::runtime_error(path.string() + ": lists two autoencoders (" + autoencoder.name +
                                 " and " + name + "); a pipeline has one");
      autoencoder = {name, cls};
    } else {
      others.push_back(name + " (" + cls + ")");
    }
  }
  if (!others.empty())
    throw std::runtime_error(
        fmt::format("{}: the pipeline has components this project cannot run: {} (supported: unet, "
                    "scheduler and an autoencoder vqvae or vae, as DDPMPipeline, DDIMPipeline and "
                    "LDMPipeline)",
                    path.string(), fmt::join(others, ", ")));
  return autoencoder;
}

Located locate(const fs::path& path) {
  if (!fs::exists(path)) throw std::runtime_error(path.string() + ": no such file or directory");
  if (!fs::is_directory(path))
    throw std::runtime_error(path.string() + ": is a file, not a model folder; " +
                             kAcceptedLayouts);
  // Our runs; a latent one keeps its autoencoder in RUN/autoencoder/ (ddpm train --autoencoder).
  auto our_run = [](ModelLayout layout, const fs::path& config, const fs::path& folder) {
    Located where{layout, config, folder, {}, {}, false};
    const fs::path run_dir = config.parent_path();
    const auto j = read_json(config);
    if (j.is_object() && j.contains("model") && j["model"].is_object() &&
        j["model"].contains("kind"))
      throw std::runtime_error(
          run_dir.string() +
          " is an autoencoder run (ddpm train-autoencoder), not a diffusion model: train one on "
          "its latents with ddpm train --autoencoder " +
          run_dir.string() + ", or encode with ddpm autoencode --model " + run_dir.string());
    if (is_diffusers_autoencoder(run_dir / "autoencoder")) {
      where.autoencoder = run_dir / "autoencoder";
      where.scaled_latents = true;  // latents · scaling_factor, as the run trained on
    }
    return where;
  };
  if (fs::is_regular_file(path / "config.json") && checkpoint_exists(path / "checkpoints/latest"))
    return our_run(ModelLayout::run_directory, path / "config.json", path / "checkpoints/latest");
  if (checkpoint_exists(path)) {
    for (const auto& candidate :
         {path / "config.json", path.parent_path().parent_path() / "config.json"})
      if (fs::is_regular_file(candidate)) return our_run(ModelLayout::checkpoint, candidate, path);
    throw std::runtime_error(path.string() +
                             ": checkpoint folder without a config.json beside it "
                             "or in its run directory");
  }
  // A pipeline keeps the UNet in unet/; early hub repositories (google/ddpm-*) have a
  // model_index.json beside a flat model folder instead, which the next case reads.
  if (fs::is_regular_file(path / "model_index.json") && fs::is_directory(path / "unet")) {
    const auto autoencoder = check_model_index(path / "model_index.json");
    const fs::path unet = path / "unet";
    if (!is_diffusers_model(unet))
      throw std::runtime_error((unet).string() + ": a pipeline's unet/ needs config.json and " +
                               kDiffusersWeights);
    const fs::path scheduler = path / "scheduler" / "scheduler_config.json";
    Located where{ModelLayout::diffusers_pipeline,
                  unet / "config.json",
                  unet,
                  fs::is_regular_file(scheduler) ? scheduler : fs::path(),
                  {},
                  false};
    if (!autoencoder.name.empty()) {
      where.autoencoder = path / autoencoder.name;
      if (!fs::is_directory(where.autoencoder))
        throw std::runtime_error(path.string() + ": model_index.json lists " + autoencoder.name +
                                 " but the folder " + where.autoencoder.string() + " is missing");
      where.scaled_latents = autoencoder.name == "vae";
    }
    return where;
  }
  if (is_diffusers_model(path)) {
    if (fs::is_regular_file(path / "model_index.json") &&
        !check_model_index(path / "model_index.json").name.empty())
      throw std::runtime_error(path.string() +
                               ": model_index.json lists an autoencoder but the UNet is not in "
                               "unet/; a latent pipeline keeps each component in its folder");
    return {ModelLayout::diffusers_model,
            path / "config.json",
            path,
            find_scheduler_config(path),
            {},
            false};
  }
  if (is_ddim_official_folder(path))
    return {ModelLayout::ddim_official, path / "config.yml", path, {}, {}, false};
  if (fs::is_regular_file(path / "args.json")) {
    if (!is_improved_diffusion_folder(path))
      throw std::runtime_error(path.string() +
                               ": args.json (improved-diffusion) without a *.pt state dict beside "
                               "it");
    return {ModelLayout::improved_diffusion, path / "args.json", path, {}, {}, false};
  }
  if (fs::is_regular_file(path / "config.json")) {
    for (const char* other :
         {"diffusion_pytorch_model.bin", "diffusion_pytorch_model.fp16.safetensors"})
      if (fs::is_regular_file(path / other))
        throw std::runtime_error(
            path.string() + ": has " + other + " but no " + kDiffusersWeights +
            " (the weights are read from that file only; convert or rename them, see "
            "docs/diffusers.md)");
    if (read_json(path / "config.json").contains("_class_name"))
      throw std::runtime_error(path.string() + ": diffusers config.json without " +
                               kDiffusersWeights);
  }
  throw std::runtime_error(path.string() + ": not a model folder that this project recognises; " +
                           kAcceptedLayouts);
}

bool is_diffusers(ModelLayout layout) {
  return layout == ModelLayout::diffusers_model || layout == ModelLayout::diffusers_pipeline;
}

bool is_original_format(ModelLayout layout) {
  return layout == ModelLayout::ddim_official || layout == ModelLayout::improved_diffusion;
}

/// A latent pipeline's autoencoder config, checked against the UNet it feeds: the UNet's
/// channels must be the latent channels (a VQModel's: its codebook width, since its quantizer
/// runs inside decode).
AutoencoderConfig read_autoencoder_config(const Located& where, const UNetConfig& unet) {
  const fs::path file = where.autoencoder / "config.json";
  if (!fs::is_regular_file(file) || !fs::is_regular_file(where.autoencoder / kDiffusersWeights))
    throw std::runtime_error(where.autoencoder.string() +
                             ": an autoencoder folder needs config.json and " + kDiffusersWeights);
  AutoencoderConfig a;
  try {
    a = autoencoder_config_from_diffusers(read_json(file), file.string());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  const int64_t latent = a.kind == AutoencoderKind::vq ? codebook_dim(a) : a.latent_channels;
  if (unet.in_channels != latent ||
      (unet.out_channels != latent && unet.out_channels != 2 * latent))
    throw std::runtime_error(fmt::format(
        "{}: the unet takes {} channels and gives {}, but the {} in {} has {} latent channels; "
        "the unet's in_channels and out_channels must be {} (out_channels {} with learned "
        "variances)",
        where.autoencoder.parent_path().string(), unet.in_channels, unet.out_channels,
        diffusers_class_name(a.kind), where.autoencoder.filename().string(), latent, latent,
        2 * latent));
  return a;
}

/// Sets loaded.config (and the fields saying where it came from) without reading any weights.
void read_config(const Located& where, LoadedModel& loaded) {
  loaded.layout = where.layout;
  loaded.checkpoint_dir = where.folder;
  if (is_original_format(where.layout)) {
    try {
      loaded.config =
          where.layout == ModelLayout::ddim_official
              ? ddim_official_config(read_yaml_file(where.config), where.config.string())
              : improved_diffusion_config(read_json(where.config), where.config.string());
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(e.what());
    }
    return;
  }
  if (!is_diffusers(where.layout)) {
    const nlohmann::json config = read_json(where.config);
    try {
      loaded.config = run_config_from_json(config);
    } catch (const c10::Error& e) {  // a schedule TORCH_CHECK: the message without backtrace
      throw std::runtime_error(where.config.string() + ": " + e.what_without_backtrace());
    } catch (const std::exception& e) {
      throw std::runtime_error(where.config.string() + ": " + e.what());
    }
    return;
  }
  auto& c = loaded.config;
  try {
    c.model = unet_config_from_diffusers(read_json(where.config), where.config.string());
    if (!where.scheduler.empty())
      loaded.warnings =
          apply_scheduler_config(read_json(where.scheduler), c, where.scheduler.string());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  // The images such a model draws: sample_size² × in_channels in [-1, 1] (DDPMPipeline maps
  // them to [0, 1] with image / 2 + 0.5); a latent model's are the autoencoder's decodes.
  c.data.image_size = c.model.sample_size;
  c.data.channels = c.model.in_channels;
  c.data.normalization = Normalization::minus_one_one;
  if (!where.autoencoder.empty()) {
    const auto a = read_autoencoder_config(where, c.model);
    c.data.image_size = c.model.sample_size * downsample_factor(a);
    c.data.channels = a.out_channels;
  }
  // A class-conditional UNet2DModel: every label is a class, and the null class (if any) is not
  // recorded in diffusers' config (sampling with guidance then names it: --null-class).
  if (c.model.num_class_embeds > 0) {
    c.classes.conditional = true;
    c.classes.num_classes = c.model.num_class_embeds;
    c.classes.null_class = -1;
  }
  loaded.scheduler_config = where.scheduler;
}

/// The weights (current diffusers spelling), reading only the one file `weights` picks.
TensorMap read_weights(const Located& where, WeightsKind weights, LoadedModel& loaded) {
  if (is_diffusers(where.layout)) {
    loaded.weights_file = where.folder / kDiffusersWeights;
    try {
      return convert_legacy_attention_keys(read_safetensors(loaded.weights_file).tensors);
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(loaded.weights_file.string() + ": " + e.what());
    }
  }
  const fs::path dir = complete_checkpoint_dir(where.folder);
  const nlohmann::json state = read_json(dir / "state.json");
  if (!state.is_object() || (state.contains("step") && !state["step"].is_number_unsigned()))
    throw std::runtime_error(
        (dir / "state.json").string() +
        ": expected an object with a non-negative integer step, found " +
        (state.is_object() ? "step " + state["step"].dump() : std::string(state.type_name())));
  loaded.step = state.value("step", int64_t(0));
  const bool ema = weights == WeightsKind::ema;
  loaded.weights_file = dir / (ema ? "ema.safetensors" : "model.safetensors");
  if (ema && !fs::is_regular_file(loaded.weights_file))
    throw std::runtime_error(dir.string() + ": has no ema.safetensors (use --weights raw)");
  return read_safetensors(loaded.weights_file).tensors;
}

}  // namespace

torch::Device parse_device(const std::string& text) {
  if (text == "auto") return torch::cuda::is_available() ? torch::kCUDA : torch::kCPU;
  torch::Device device = torch::kCPU;
  try {
    device = torch::Device(text);
  } catch (const c10::Error&) {
    throw std::invalid_argument("unknown device '" + text + "' (allowed: auto, cpu, cuda, cuda:N)");
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    throw std::invalid_argument("device '" + text + "' requested but this build of LibTorch " +
                                "has no CUDA or no GPU is visible (use --device cpu)");
  return device;
}

RunConfig read_model_config(const fs::path& path) {
  LoadedModel loaded;
  read_config(locate(path), loaded);
  return loaded.config;
}

LoadedModel load_model(const fs::path& path, WeightsKind weights, const torch::Device& device) {
  const Located where = locate(path);
  LoadedModel loaded;
  read_config(where, loaded);
  loaded.schedule = make_noise_schedule(loaded.config.schedule);
  loaded.model = UNet(loaded.config.model);
  TensorMap tensors;
  if (where.layout == ModelLayout::ddim_official) {
    loaded.weights_file = ddim_official_weights_file(where.folder);
    tensors = ddim_official_weights(loaded.weights_file, read_yaml_file(where.config), weights,
                                    state_dict(*loaded.model));
  } else if (where.layout == ModelLayout::improved_diffusion) {
    loaded.weights_file = improved_diffusion_weights_file(where.folder, weights);
    tensors = improved_diffusion_weights(loaded.weights_file, loaded.config,
                                         improved_diffusion_num_heads(read_json(where.config)),
                                         state_dict(*loaded.model));
  } else {
    tensors = read_weights(where, weights, loaded);
  }
  load_state_dict(*loaded.model, tensors, loaded.weights_file.string());
  loaded.model->to(device);
  loaded.model->eval();
  if (!loaded.config.autoencoder.empty() && where.autoencoder.empty())
    throw std::runtime_error(fmt::format(
        "{}: the run was trained on the latents of {} but its copy {} is missing or incomplete",
        where.config.parent_path().string(), loaded.config.autoencoder,
        (where.config.parent_path() / "autoencoder").string()));
  if (where.autoencoder.empty()) {
    loaded.codec = Codec(dataset_normalization(loaded.config.data));
  } else {
    auto autoencoder = load_autoencoder(where.autoencoder, device);
    const double scale = where.scaled_latents ? autoencoder->config().scaling_factor : 1.0;
    loaded.codec = Codec(autoencoder, scale);
    loaded.autoencoder_dir = where.autoencoder;
  }
  return loaded;
}

}  // namespace ddpm

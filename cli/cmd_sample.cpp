// ddpm sample: draw images from a trained model (ours or a diffusers UNet2DModel) with any sampler
// and save a grid, one PNG per image, and/or the float samples as a safetensors tensor.
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "class_flags.h"
#include "commands.h"
#include "data/transforms.h"
#include "enum_choices.h"
#include "io/grid.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "model_option.h"
#include "progress.h"
#include "runs/class_labels.h"
#include "runs/generate.h"
#include "runs/model_loading.h"
#include "runs/threads.h"
#include "sampler_flags.h"
#include "samplers/sampler_registry.h"

namespace ddpm::cli {

namespace fs = std::filesystem;

namespace {

/// The most images one `ddpm sample` draws: 10 million (a 50k-image FID set is 200× fewer).
constexpr int64_t kMaxImagesPerCommand = 10'000'000;

struct SampleFlags {
  std::string model;
  std::shared_ptr<SamplerFlags> sampler;
  int64_t n = 64;
  int64_t batch_size = 64;
  uint64_t seed = 0;
  std::string weights;  ///< "" = ema
  std::string out;
  std::string out_dir;
  std::string init_noise;
  std::string save_tensor;
  CLI::Option* n_option = nullptr;
  std::string device = "auto";
  int64_t threads = 0;
  std::string precision;  ///< "" = the run's (fp32)
  bool cuda_graphs = false;
  std::shared_ptr<ClassFlags> classes;
  bool grid_by_class = false;
};

}  // namespace

Run add_sample(CLI::App& app) {
  auto flags = std::make_shared<SampleFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand("sample", "Draw images from a trained model with any sampler");
  cmd->add_option("--model", f.model, kModelHelp)->required();
  f.sampler = add_sampler_flags(
      *cmd, "the run's; a diffusers folder's scheduler_config.json class and settings");
  // Bounded above too: CLI11 saturates an out-of-range integer to INT64_MAX instead of refusing it.
  f.n_option = cmd->add_option("--n", f.n, "Number of images (default 64, or --init-noise's N)")
                   ->check(CLI::Range(int64_t(1), kMaxImagesPerCommand));
  cmd->add_option("--batch-size", f.batch_size, "Images per network call")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", f.seed, "Seed of x_T and of every sampler draw");
  cmd->add_option("--weights", f.weights, kWeightsHelp)->check(enum_choices<WeightsKind>());
  auto* out = cmd->add_option(
      "--out", f.out,
      "PNG grid to write (default samples.png, unless only --save-tensor is given)");
  auto* out_dir = cmd->add_option("--out-dir", f.out_dir, "Folder for one PNG per image");
  out->excludes(out_dir);
  cmd->add_option("--init-noise", f.init_noise,
                  "safetensors file with the initial noise as tensor x_T [N, C, H, W] "
                  "(instead of drawing it from --seed); latent models: latent-shaped")
      ->check(CLI::ExistingFile);
  cmd->add_option("--save-tensor", f.save_tensor,
                  "Also write the samples as tensor x_0 (float32 [N, C, H, W], before the "
                  "conversion to 8-bit) to this safetensors file; latent models write the "
                  "sampler's final latents as latents and their decodes ([-1, 1], unclamped) "
                  "as x_0");
  cmd->add_option("--device", f.device, "auto, cpu, cuda or cuda:N");
  cmd->add_option("--threads", f.threads, "CPU threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--precision", f.precision,
                  "Autocast for the network: fp32, bf16, or fp16 (CUDA only); the sampler's "
                  "arithmetic stays float32")
      ->check(enum_choices<Precision>());
  cmd->add_flag("--cuda-graphs", f.cuda_graphs,
                "Replay the network from a CUDA graph (CUDA builds and devices only)");
  f.classes = add_class_flags(*cmd);
  cmd->add_flag("--grid-by-class", f.grid_by_class,
                "Class-conditional models: a grid with one row per class, named, of --n images "
                "each (default 8)")
      ->group("Classes")
      ->excludes(out_dir);

  return [flags]() -> int {
    auto& f = *flags;
    configure_cpu_threads(f.threads);
    const auto device = parse_device(f.device);
    auto loaded = load_model_option(f.model, f.weights, device);
    apply_class_flags(*f.classes, loaded);
    SamplingConfig sampling = loaded.config.sampling;
    sampling.sampler =
        resolve_sampler(sampling.sampler, *f.sampler, loaded.schedule.num_train_timesteps);
    if (!f.precision.empty()) sampling.precision = parse_enum<Precision>(f.precision);
    if (f.cuda_graphs) sampling.cuda_graphs = true;
    const int64_t evaluations = network_evaluations(sampling.sampler, loaded.schedule);

    GenerateRequest request;
    request.count = f.n;
    request.batch_size = f.batch_size;
    request.seed = f.seed;
    if (!f.init_noise.empty()) {
      request.x_T = read_initial_noise(f.init_noise, loaded.config.model);
      if (f.n_option->count() > 0 && f.n != request.x_T.size(0))
        throw std::invalid_argument(fmt::format("--n {} but --init-noise {} holds {} images", f.n,
                                                f.init_noise, request.x_T.size(0)));
      request.count = request.x_T.size(0);
    }
    request.classes = loaded.config.classes;
    const auto& classes = loaded.config.classes;
    std::vector<std::string> row_names;  // --grid-by-class
    int64_t per_class = 0;
    if (f.grid_by_class) {
      if (loaded.config.model.num_class_embeds == 0)
        throw std::invalid_argument(
            "--grid-by-class: this model is not class-conditional (num_class_embeds is 0)");
      if (!f.classes->labels.empty() || !f.init_noise.empty())
        throw std::invalid_argument(
            "--grid-by-class draws every class itself: leave out --class-labels and "
            "--init-noise");
      per_class = f.n_option->count() > 0 ? f.n : 8;
      request.class_labels = class_rows(classes.num_classes, per_class);
      request.count = request.class_labels.size(0);
      for (int64_t k = 0; k < classes.num_classes; ++k) row_names.push_back(class_name(classes, k));
    } else if (auto labels = parsed_class_labels(*f.classes, loaded); labels.defined()) {
      // One label: every image (--n, default 64); a list: one per image, its length the count.
      const bool count_given = f.n_option->count() > 0 || !f.init_noise.empty();
      request.class_labels =
          expand_class_labels(labels, count_given || labels.size(0) == 1 ? request.count : 0);
      request.count = request.class_labels.size(0);
    }

    fmt::print("model: {} on {}\n", describe(loaded, f.weights), device.str());
    if (loaded.codec.is_latent())
      fmt::print("latent model: sampling {} decoded by {}\n", loaded.codec.describe(),
                 loaded.autoencoder_dir.string());
    fmt::print("sampler: {} ({} network evaluations per image); network in {}{}\n",
               describe_sampler(sampling.sampler), evaluations, to_string(sampling.precision),
               sampling.cuda_graphs ? " from a CUDA graph" : "");
    if (loaded.config.model.num_class_embeds > 0)
      fmt::print("classes: {}; guidance scale {:g}{}\n",
                 request.class_labels.defined() ? "as requested" : "every class in turn",
                 sampling.guidance_scale,
                 sampling.guidance_scale != 1.0 && sampling.guidance_scale != 0.0
                     ? " (two network evaluations per step: conditional and null, batched)"
                     : "");
    ProgressLine line;
    const auto start = std::chrono::steady_clock::now();
    auto samples = generate(
        loaded.model, loaded.schedule, loaded.config.prediction_type, sampling, request,
        [&](int64_t batch, int64_t batches, const SamplerStep& s) {
          const double done =
              double(batch * s.num_steps + s.index + 1) / double(batches * s.num_steps);
          const double elapsed =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          line.update(fmt::format("batch {}/{}  step {}/{} (t={:g})  ETA {}", batch + 1, batches,
                                  s.index + 1, s.num_steps, s.t,
                                  format_duration(elapsed / done * (1 - done))));
        });
    line.finish();
    const auto& codec = loaded.codec;
    if (!f.save_tensor.empty()) {
      // A latent model: the sampler's final latents and their decodes; pixels: x_0 itself.
      const auto x_0 = codec.decode(samples);
      TensorMap tensors{{"x_0", x_0}};
      if (codec.is_latent()) tensors.emplace("latents", samples);
      write_safetensors(f.save_tensor, tensors);
      fmt::print(
          "wrote {}x_0 [{}] to {}\n",
          codec.is_latent() ? fmt::format("latents [{}], ", fmt::join(samples.sizes(), ", ")) : "",
          fmt::join(x_0.sizes(), ", "), f.save_tensor);
      if (f.out.empty() && f.out_dir.empty()) return 0;
    }
    auto images = codec.to_uint8(samples);
    if (!f.out_dir.empty()) {
      fs::create_directories(f.out_dir);
      for (int64_t i = 0; i < images.size(0); ++i)
        write_png(fs::path(f.out_dir) / fmt::format("{:05d}.png", i), images[i]);
      fmt::print("wrote {} images to {}\n", images.size(0), f.out_dir);
    } else {
      const fs::path path = f.out.empty() ? fs::path("samples.png") : fs::path(f.out);
      GridOptions grid;
      grid.columns = int64_t(std::ceil(std::sqrt(double(images.size(0)))));
      if (!row_names.empty()) {
        grid.columns = per_class;
        write_png(path, make_labelled_grid(images, row_names, grid));
      } else {
        write_png(path, make_grid(images, grid));
      }
      fmt::print("wrote a grid of {} images to {}\n", images.size(0), path.string());
    }
    return 0;
  };
}

}  // namespace ddpm::cli

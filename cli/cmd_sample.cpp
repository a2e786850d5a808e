// ddpm sample: draw images from a trained model (ours or a diffusers UNet2DModel) with any sampler
// and save a grid, one PNG per image, and/or the float samples as a safetensors tensor.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "class_flags.h"
#include "commands.h"
#include "data/transforms.h"
#include "enum_choices.h"
#include "io/content_hash.h"
#include "io/grid.h"
#include "io/image.h"
#include "io/png_text.h"
#include "io/safetensors.h"
#include "model_option.h"
#include "models/conv3x3.h"
#include "progress.h"
#include "runs/class_labels.h"
#include "runs/generate.h"
#include "runs/model_loading.h"
#include "runs/threads.h"
#include "sample_parameters.h"
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
  std::string from_png;
};

/// --from-png's default output: NAME-again.png beside NAME.png.
fs::path again_path(const fs::path& source) {
  return fs::path(source).replace_filename(source.stem().string() + "-again.png");
}

/// Says whether a --from-png re-creation matches its source byte for byte.
void report_recreation(const fs::path& source, const fs::path& made) {
  auto bytes = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  };
  const bool same = bytes(source) == bytes(made);
  fmt::print("wrote {}: {} {}\n", made.string(), same ? "byte-identical to" : "NOT identical to",
             source.string());
}

/// The "parameters" chunk of a PNG written by ddpm sample.
SampleParameters read_png_parameters(const fs::path& png) {
  for (const auto& [keyword, text] : read_png_text_file(png))
    if (keyword == "parameters") {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(text);
      } catch (const nlohmann::json::exception&) {
        throw std::invalid_argument(png.string() + ": its parameters chunk is not JSON");
      }
      return sample_parameters_from_json(j, png.string());
    }
  throw std::invalid_argument(png.string() +
                              " has no \"parameters\" chunk: it was not written by ddpm sample");
}

}  // namespace

Run add_sample(CLI::App& app) {
  auto flags = std::make_shared<SampleFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand("sample", "Draw images from a trained model with any sampler");
  cmd->add_option("--model", f.model, kModelHelp);
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
  cmd->add_option("--from-png", f.from_png,
                  "Re-create this PNG (a grid or one image ddpm sample wrote) from the parameters "
                  "inside it: same model (its weights hash is checked), sampler, seed, classes and "
                  "threads; writes --out (default: NAME-again.png) and says whether it is "
                  "byte-identical")
      ->check(CLI::ExistingFile)
      ->excludes("--model")
      ->excludes(out_dir);

  return [flags]() -> int {
    auto& f = *flags;
    std::optional<SampleParameters> source;  // --from-png: the request comes from the PNG
    if (!f.from_png.empty()) source = read_png_parameters(f.from_png);
    if (!source && f.model.empty()) throw std::invalid_argument("--model is required");
    SampleParameters p;
    p.model = source ? source->model : f.model;
    p.weights = source ? source->weights
                       : f.weights;  // "": the default (ema; a diffusers folder's one set)
    p.threads = configure_cpu_threads(source ? source->threads : f.threads);
    if (source && source->conv_policy) {  // the convolutions exactly as they ran
      set_conv3x3_policy(*source->conv_policy);
      pin_conv3x3_choices(source->conv_choices);
    }
    const auto device = parse_device(f.device);
    auto loaded = load_model_option(p.model, p.weights, device);
    p.weights_hash = file_fnv1a_hex(loaded.weights_file);
    if (source && source->weights_hash != p.weights_hash)
      throw std::invalid_argument(fmt::format(
          "{} was made with weights {} (FNV-1a {}), but {} now holds {}: not the same model",
          f.from_png, source->model, source->weights_hash, loaded.weights_file.string(),
          p.weights_hash));
    apply_class_flags(*f.classes, loaded);
    SamplingConfig sampling = loaded.config.sampling;
    if (source) {
      sampling.sampler = apply_sampler_overrides(sampling.sampler, source->sampler);
      sampling.precision = parse_enum<Precision>(source->precision);
      sampling.guidance_scale = source->guidance_scale;
      loaded.config.classes.null_class = source->null_class;
    } else {
      sampling.sampler =
          resolve_sampler(sampling.sampler, *f.sampler, loaded.schedule.num_train_timesteps);
      if (!f.precision.empty()) sampling.precision = parse_enum<Precision>(f.precision);
    }
    if (f.cuda_graphs) sampling.cuda_graphs = true;
    const int64_t evaluations = network_evaluations(sampling.sampler, loaded.schedule);

    GenerateRequest request;
    request.count = source ? source->count : f.n;
    request.batch_size = source ? source->batch_size : f.batch_size;
    request.seed = source ? source->seed : f.seed;
    const std::string init_noise = source ? source->init_noise : f.init_noise;
    if (!init_noise.empty()) {
      p.init_noise = init_noise;
      p.init_noise_hash = file_fnv1a_hex(init_noise);
      if (source && source->init_noise_hash != p.init_noise_hash)
        throw std::invalid_argument(
            fmt::format("{} was made from --init-noise {} (FNV-1a {}), "
                        "which now holds other bytes ({})",
                        f.from_png, init_noise, source->init_noise_hash, p.init_noise_hash));
      request.x_T = read_initial_noise(init_noise, loaded.config.model);
      if (!source && f.n_option->count() > 0 && f.n != request.x_T.size(0))
        throw std::invalid_argument(fmt::format("--n {} but --init-noise {} holds {} images", f.n,
                                                f.init_noise, request.x_T.size(0)));
      request.count = request.x_T.size(0);
    }
    request.classes = loaded.config.classes;
    const auto& classes = loaded.config.classes;
    std::vector<std::string> row_names;  // --grid-by-class
    int64_t per_class = 0;
    if (source) {
      per_class = source->per_class;
      if (!source->class_labels.empty())
        request.class_labels = torch::tensor(source->class_labels, torch::kLong);
      if (per_class > 0)
        for (int64_t k = 0; k < classes.num_classes; ++k)
          row_names.push_back(class_name(classes, k));
    } else if (f.grid_by_class) {
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
    } else if (loaded.config.model.num_class_embeds > 0) {
      request.class_labels = default_class_labels(request.count, classes.num_classes);
    }
    // What the PNGs record (the request as resolved).
    p.sampler = sampler_config_to_json(sampling.sampler);
    p.precision = to_string(sampling.precision);
    p.guidance_scale = sampling.guidance_scale;
    p.null_class = classes.null_class;
    p.seed = request.seed;
    p.count = request.count;
    p.batch_size = request.batch_size;
    p.per_class = per_class;
    if (request.class_labels.defined()) {  // a --from-png image: already its batch's labels
      const auto labels = request.class_labels.contiguous();
      p.class_labels.assign(labels.data_ptr<int64_t>(),
                            labels.data_ptr<int64_t>() + labels.numel());
    }
    // One image of a folder: draw only its batch, as it was drawn (images depend on their own
    // seed, and on the batch they were computed in only through the network's arithmetic).
    int64_t first = 0;
    if (source && source->index) {
      const auto batch = batch_of(*source->index, request.batch_size, request.count);
      first = batch.first;
      request.seed = source->seed + uint64_t(first);
      if (request.x_T.defined()) request.x_T = request.x_T.narrow(0, first, batch.size);
      request.count = batch.size;
    }

    fmt::print("model: {} on {}\n", describe(loaded, p.weights), device.str());
    if (loaded.codec.is_latent())
      fmt::print("latent model: sampling {} decoded by {}\n", loaded.codec.describe(),
                 loaded.autoencoder_dir.string());
    fmt::print("sampler: {} ({} network evaluations per image); network in {}{}\n",
               describe_sampler(sampling.sampler), evaluations, to_string(sampling.precision),
               sampling.cuda_graphs ? " from a CUDA graph" : "");
    if (loaded.config.model.num_class_embeds > 0)
      fmt::print("classes: {}; guidance scale {:g}{}\n",
                 f.classes->labels.empty() && per_class == 0 && !source ? "every class in turn"
                                                                        : "as requested",
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
      if (f.out.empty() && f.out_dir.empty() && !source) return 0;
    }
    if (conv3x3_policy() != Conv3x3Policy::onednn) {  // DDPM_CONV: what ran, for --from-png
      p.conv_policy = conv3x3_policy();
      p.conv_choices = conv3x3_choices();
    }
    auto images = codec.to_uint8(samples);
    // A grid records every label; one image only its batch's (what re-drawing it needs).
    SampleParameters unlabelled = p;  // copied per PNG: without the request's label list
    unlabelled.class_labels.clear();
    auto text = [&](std::optional<int64_t> index, std::vector<int64_t> labels) {
      SampleParameters q = unlabelled;
      q.index = index;
      q.class_labels = std::move(labels);
      return png_parameters(to_json(q));
    };
    if (source && source->index) {
      const fs::path path = f.out.empty() ? again_path(f.from_png) : fs::path(f.out);
      write_png(path, images[*source->index - first], text(source->index, p.class_labels));
      report_recreation(f.from_png, path);
    } else if (!f.out_dir.empty()) {
      fs::create_directories(f.out_dir);
      for (int64_t i = 0; i < images.size(0); ++i) {
        std::vector<int64_t> labels;
        if (!p.class_labels.empty()) {
          const auto batch = batch_of(i, p.batch_size, p.count);
          labels.assign(p.class_labels.begin() + batch.first,
                        p.class_labels.begin() + batch.first + batch.size);
        }
        write_png(fs::path(f.out_dir) / fmt::format("{:05d}.png", i), images[i],
                  text(i, std::move(labels)));
      }
      fmt::print("wrote {} images to {}\n", images.size(0), f.out_dir);
    } else {
      const fs::path path = !f.out.empty() ? fs::path(f.out)
                            : source       ? again_path(f.from_png)
                                           : fs::path("samples.png");
      GridOptions grid;
      grid.columns = int64_t(std::ceil(std::sqrt(double(images.size(0)))));
      if (!row_names.empty()) {
        grid.columns = per_class;
        write_png(path, make_labelled_grid(images, row_names, grid),
                  text(std::nullopt, p.class_labels));
      } else {
        write_png(path, make_grid(images, grid), text(std::nullopt, p.class_labels));
      }
      if (source)
        report_recreation(f.from_png, path);
      else
        fmt::print("wrote a grid of {} images to {}\n", images.size(0), path.string());
    }
    return 0;
  };
}

}  // namespace ddpm::cli

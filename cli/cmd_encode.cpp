// ddpm encode: images → latents x_T by deterministic DDIM inversion (DDIM §4.3, §5.4), saved as a
// safetensors codes file; decodes them again and prints the round-trip error.
#include <fmt/format.h>

#include "commands.h"
#include "data/transforms.h"
#include "experiments/figure.h"
#include "experiments/latent_codes.h"
#include "figure_flags.h"
#include "io/image.h"
#include "models/denoiser.h"
#include "runs/generate.h"

namespace ddpm::cli {

namespace {

struct EncodeFlags {
  ModelFlags model;
  std::string data;
  std::vector<std::string> images;
  int64_t n = 4;
  int64_t steps = 50;
  int64_t fixed_point_iterations = 0;
  uint64_t seed = 0;
  std::string out;
  std::string figure;
};

// An image file prepared like the training data: centred square, antialiased resize, channels.
torch::Tensor read_for_model(const std::string& path, const LoadedModel& loaded) {
  const auto& mc = loaded.config.model;
  const auto shape = loaded.codec.image_shape(mc.in_channels, mc.sample_size);  // {C, S, S}
  auto image = read_image(path, int(shape[0]));                                 // uint8 [C, H, W]
  image = resize_antialiased(center_crop_square(image), shape[1]);
  return image;
}

}  // namespace

Run add_encode(CLI::App& app) {
  auto flags = std::make_shared<EncodeFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand(
      "encode", "Images → x_T by deterministic DDIM inversion; prints the round-trip error");
  add_model_flags(*cmd, f.model);
  auto* data = cmd->add_option("--data", f.data,
                               "fashion-mnist or an image folder: --n images of its validation "
                               "split");
  auto* images = cmd->add_option("--images", f.images, "Image files to encode instead of --data");
  data->excludes(images);
  cmd->add_option("--n", f.n, "Validation images to encode (with --data)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--steps", f.steps, "DDIM steps (the error shrinks as they grow)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--fixed-point-iterations", f.fixed_point_iterations,
                  "Extra network evaluations per inversion step that make decoding return the "
                  "images almost exactly (0: plain DDIM inversion, error ~ 1/steps)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--seed", f.seed, "Seed of the picked validation images");
  cmd->add_option("--out", f.out, "Codes file to write (.safetensors: x_T, x_0, timesteps)")
      ->required();
  cmd->add_option("--figure", f.figure,
                  "Also write a PNG: per image x_0, its code x_T and the decoded x_0");

  return [flags, data, images]() -> int {
    auto& f = *flags;
    if (data->count() == 0 && images->count() == 0)
      throw std::invalid_argument("give --data (fashion-mnist or a folder) or --images FILE...");
    auto loaded = load_model_from_flags(f.model);
    const int64_t T = loaded.schedule.num_train_timesteps;
    if (f.steps > T)
      throw std::invalid_argument(fmt::format("--steps {} exceeds the model's T = {}", f.steps, T));
    const SamplingConfig s = loaded.config.sampling;
    const auto timesteps = code_timesteps(s.sampler, f.steps, T);
    const auto device = loaded.model->parameters().front().device();

    torch::Tensor x0;
    std::map<std::string, std::string> info{
        {"model", f.model.model},
        {"weights", f.model.weights},
        {"steps", std::to_string(timesteps.size())},
        {"fixed_point_iterations", std::to_string(f.fixed_point_iterations)}};
    if (!f.data.empty()) {
      auto d = load_data_for_model(f.data, loaded);
      const auto indices = pick_indices(d.validation.size(0), f.n, f.seed);
      x0 = pick_images(d, indices);
      info["data"] = f.data;
      info["validation_indices"] = fmt::format("{}", fmt::join(indices, ","));
    } else {
      std::vector<torch::Tensor> read;
      for (const auto& path : f.images) read.push_back(read_for_model(path, loaded));
      x0 = loaded.codec.encode(torch::stack(read));
      info["images"] = fmt::format("{}", fmt::join(f.images, ","));
    }
    auto denoise = make_denoise_fn(loaded.model, loaded.schedule);
    const auto prediction = loaded.config.prediction_type;
    StepProgress progress("encoding");
    auto codes = encode_images(denoise, loaded.schedule, prediction, s, timesteps, x0.to(device),
                               f.fixed_point_iterations,
                               [&](const SamplerStep& st) { progress.update(st, 0, 2); });
    progress.set_what("decoding");
    auto decoded =
        decode_codes(denoise, loaded.schedule, prediction, s, timesteps, codes.to(device),
                     [&](const SamplerStep& st) { progress.update(st, 1, 2); });
    progress.finish();
    write_latent_codes(f.out, {codes, x0, timesteps, info});
    fmt::print("wrote {} codes {} to {}\n", codes.size(0), c10::str(codes.sizes()), f.out);
    const auto error = round_trip_error(decoded, x0, loaded.codec);
    print_round_trip(error, int64_t(timesteps.size()));
    if (!f.figure.empty()) {
      auto tiles = torch::stack({x0, codes, decoded}, 1);  // [N, 3, C, H, W]
      auto image = figure_image(tiles, loaded.codec);
      write_figure(
          f.figure, image,
          {{"command", "encode"},
           {"model", f.model.model},
           {"weights", f.model.weights},
           {"steps", timesteps.size()},
           {"timesteps", timesteps},
           {"fixed_point_iterations", f.fixed_point_iterations},
           {"layout", "one row per image: x_0, its code x_T, decode(x_T)"},
           {"round_trip",
            {{"mse", error.mse}, {"max_abs", error.max_abs}, {"pixel_mse", error.pixel_mse}}}});
      print_wrote(f.figure, image);
    }
    return 0;
  };
}

}  // namespace ddpm::cli

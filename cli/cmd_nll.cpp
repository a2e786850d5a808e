// ddpm nll --model PATH --data D: the negative log-likelihood bound in bits/dim (DDPM eq. 5 with
// the discretized decoder of eq. 13), the total and its L_T / Σ L_{t−1} / L_0 parts, as JSON.
#include <chrono>
#include <fstream>

#include <fmt/format.h>

#include "commands.h"
#include "data/transforms.h"
#include "enum_choices.h"
#include "eval/feature_source.h"
#include "eval/nll.h"
#include "io/atomic_file.h"
#include "model_option.h"
#include "models/denoiser.h"
#include "progress.h"
#include "runs/threads.h"

namespace ddpm::cli {

namespace {

struct NllFlags {
  std::string model;
  std::string data;
  int64_t n = 256;
  int64_t batch_size = 64;
  uint64_t seed = 0;
  std::string variance;
  bool no_clip = false;
  std::string weights;
  std::string csv;
  std::string device = "auto";
  int64_t threads = 0;
};

}  // namespace

Run add_nll(CLI::App& app) {
  auto flags = std::make_shared<NllFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand(
      "nll", "Negative log-likelihood bound in bits/dim (L_T + sum L_t-1 + L_0), printed as JSON");
  cmd->footer(
      "Evaluates all T terms of the variational bound per image, as DDPM's calc_bpd_loop: T "
      "network calls per batch. Protocol: docs/evaluation.md");
  cmd->add_option("--model", f.model, kModelHelp)->required();
  cmd->add_option("--data", f.data,
                  "Images to evaluate: fashion-mnist:train, fashion-mnist:test or a folder of "
                  "images of the model's size")
      ->required();
  cmd->add_option("--n", f.n, "Images (a seeded random subset; 0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch-size", f.batch_size, "Images per network call")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", f.seed, "Seed of the subset and of the x_t draws");
  cmd->add_option(
         "--variance", f.variance,
         "Reverse-process variance: fixed_small (beta tilde), fixed_large (beta) or learned_range "
         "(the network's own, 2C outputs); "
         "default: the model's sampling variance")
      ->check(enum_choices<VarianceType>());
  cmd->add_flag("--no-clip", f.no_clip, "Do not clip the predicted x0 to [-1, 1]");
  cmd->add_option("--weights", f.weights, kWeightsHelp)->check(enum_choices<WeightsKind>());
  cmd->add_option("--csv", f.csv, "Also write the mean term and x0 MSE of every step here");
  cmd->add_option("--device", f.device, "auto, cpu, cuda or cuda:N");
  cmd->add_option("--threads", f.threads, "CPU threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);

  return [flags]() -> int {
    auto& f = *flags;
    configure_cpu_threads(f.threads);
    const auto start = std::chrono::steady_clock::now();
    auto source = parse_feature_source(f.data);
    if (source.kind != SourceKind::fashion_mnist && source.kind != SourceKind::image_folder)
      throw std::invalid_argument("--data " + f.data +
                                  ": bits/dim needs real images: fashion-mnist:train, "
                                  "fashion-mnist:test or a folder of PNG/JPEG images");
    const auto device = parse_device(f.device);
    auto loaded = load_model_option(f.model, f.weights, device);
    const auto& mc = loaded.config.model;
    if (loaded.codec.is_latent())
      throw std::invalid_argument(
          "bits/dim is a pixel-space measure (DDPM's discretized decoder over 256 pixel values) "
          "and " +
          f.model + " is a latent model (" + loaded.codec.describe() +
          "); its likelihood of latents is not comparable. Measure latent models with ddpm fid / "
          "kid or ddpm sweep instead");
    const auto& normalization = loaded.codec.pixels();
    if (normalization.kind != Normalization::minus_one_one)
      throw std::invalid_argument(
          "bits/dim needs a model of [-1,1] data (DDPM's discretized decoder has 256 bins on "
          "[-1, 1]); this model was trained on " +
          to_string(normalization.kind) + " data");
    SourceOptions so;
    so.count = f.n;
    so.seed = f.seed;
    auto data = load_source_images(source, so);
    const auto& images = data.images;
    if (images.size(1) != mc.in_channels || images.size(2) != mc.sample_size ||
        images.size(3) != mc.sample_size)
      throw std::invalid_argument(fmt::format(
          "--data {} holds {}x{}x{} images but the model takes {}x{}x{}", f.data, images.size(1),
          images.size(2), images.size(3), mc.in_channels, mc.sample_size, mc.sample_size));

    BpdOptions o;
    o.prediction_type = loaded.config.prediction_type;
    o.variance_type = f.variance.empty() ? loaded.config.sampling.sampler.variance_type
                                         : parse_enum<VarianceType>(f.variance);
    o.clip_denoised = !f.no_clip;
    auto denoise = make_denoise_fn(loaded.model, loaded.schedule);
    auto generator = at::detail::createCPUGenerator(f.seed);
    const int64_t n = images.size(0), T = loaded.schedule.num_train_timesteps;
    const int64_t batches = (n + f.batch_size - 1) / f.batch_size;
    std::vector<BpdTerms> results;
    ProgressLine line(stderr);
    for (int64_t b = 0; b < batches; ++b) {
      auto x0 =
          loaded.codec.encode(images.slice(0, b * f.batch_size, (b + 1) * f.batch_size)).to(device);
      results.push_back(calc_bpd_loop(
          denoise, loaded.schedule, o, x0, generator, [&](int64_t done, int64_t total) {
            const double elapsed =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const double fraction = double(b * total + done) / double(batches * total);
            line.update(fmt::format("batch {}/{}  step {}/{}  ETA {}", b + 1, batches, done, total,
                                    format_duration(elapsed / fraction * (1 - fraction))));
          }));
    }
    line.finish();
    const auto s = summarize_bpd(results);
    if (!f.csv.empty()) {
      std::string text = "t,term_bpd,mse\n";
      for (int64_t t = 0; t < T; ++t)
        text += fmt::format("{},{},{}\n", t, s.per_step[t].item<double>(),
                            s.mse_per_step[t].item<double>());
      write_file_atomic(f.csv, text);
    }
    nlohmann::json out{
        {"metric", "NLL bound (bits/dim)"},
        {"total_bpd", s.total},
        {"total_bpd_stderr", s.total_stderr},
        {"prior_bpd", s.prior},
        {"diffusion_bpd", s.diffusion},
        {"decoder_bpd", s.decoder},
        {"terms",
         {{"prior_bpd", "L_T = KL(q(x_T|x_0) || N(0, I))"},
          {"diffusion_bpd",
           "sum over t = 2..T of L_t-1 = KL(q(x_t-1|x_t, x_0) || "
           "p(x_t-1|x_t))"},
          {"decoder_bpd", "L_0 = -log p(x_0|x_1), discretized Gaussian, 256 bins"}}},
        {"protocol",
         {{"images", s.images},
          {"data", data.description},
          {"model", describe(loaded, f.weights)},
          {"num_train_timesteps", T},
          {"variance", to_string(o.variance_type)},
          {"clip_denoised", o.clip_denoised},
          {"x_t_draws", "one x_t ~ q(x_t|x_0) per image and step, seed " + std::to_string(f.seed)},
          {"reference", "DDPM diffusion_utils_2.calc_bpd_loop"}}},
        {"seconds",
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
    if (!f.csv.empty()) out["per_step_csv"] = f.csv;
    fmt::print("{}\n", out.dump(2));
    return 0;
  };
}

}  // namespace ddpm::cli

// ddpm eval-conditional: how often a class-conditional model draws the class asked for, per
// classifier-free guidance scale, judged by the shipped Fashion-MNIST classifier; with the
// Fréchet distance of the balanced class mix to the test set. Writes DIR/eval-conditional.json
// and DIR/eval-conditional.png.
#include <chrono>
#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.h"
#include "enum_choices.h"
#include "eval/conditional_accuracy.h"
#include "eval_flags.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "model_option.h"
#include "progress.h"
#include "runs/class_labels.h"
#include "runs/threads.h"

namespace ddpm::cli {

namespace fs = std::filesystem;

namespace {

struct EvalConditionalFlags {
  std::string model;
  std::vector<double> scales{0, 1, 2, 3, 5};
  int64_t per_class = 50;
  std::string ref = "fashion-mnist:test";
  int64_t ref_n = 0;
  std::string out = "eval-conditional";
  std::string weights;
  EvalFlags eval;
  std::optional<int64_t> null_class;
};

}  // namespace

Run add_eval_conditional(CLI::App& app) {
  auto flags = std::make_shared<EvalConditionalFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand(
      "eval-conditional",
      "Class-conditional models: share of samples classified as the class asked for, and FD, "
      "per guidance scale (JSON + PNG plot)");
  cmd->footer(
      "Each scale draws --per-class samples of every class from the same x_T (--seed); the "
      "Fashion-MNIST classifier (or --classifier) labels them. Writes DIR/eval-conditional.json "
      "and DIR/eval-conditional.png.");
  cmd->add_option("--model", f.model, kModelHelp)->required();
  cmd->add_option("--scales", f.scales, "Guidance scales, comma-separated (0,1,2,3,5)")
      ->delimiter(',')
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--per-class", f.per_class, "Samples per class and scale")
      ->check(CLI::Range(int64_t(2), int64_t(1) << 30));
  cmd->add_option("--ref", f.ref, "Reference images for the FD (a `ddpm fid` source)");
  cmd->add_option("--ref-n", f.ref_n, "Reference images used (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--out", f.out, "Output folder (default eval-conditional)");
  cmd->add_option("--weights", f.weights, kWeightsHelp)->check(enum_choices<WeightsKind>());
  cmd->add_option("--classifier", f.eval.classifier, "Fashion-MNIST classifier weights");
  cmd->add_option("--seed", f.eval.seed, "Seed of x_T and the sampler (shared by all scales)");
  cmd->add_option("--batch-size", f.eval.sample_batch_size, "Images per sampler call")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--device", f.eval.device, "auto, cpu, cuda or cuda:N");
  cmd->add_option("--threads", f.eval.threads, "CPU threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);
  f.eval.sampler = add_sampler_flags(*cmd, "the model's");
  cmd->add_option("--null-class", f.null_class,
                  "Label of the null class, for models that do not record it (diffusers folders)")
      ->check(CLI::NonNegativeNumber);

  return [flags]() -> int {
    auto& f = *flags;
    const auto start = std::chrono::steady_clock::now();
    configure_cpu_threads(f.eval.threads);
    auto loaded = load_model_option(f.model, f.weights, parse_device(f.eval.device));
    if (loaded.config.model.num_class_embeds == 0)
      throw std::invalid_argument(
          "eval-conditional needs a class-conditional model: " + f.model +
          " is not (num_class_embeds is 0; train one with ddpm train --class-conditional)");
    if (f.null_class) set_null_class(loaded.config.classes, loaded.config.model, *f.null_class);
    for (double w : f.scales)
      if (w != 1.0 && loaded.config.classes.null_class < 0)
        throw std::invalid_argument(fmt::format(
            "guidance scale {:g} needs the null class, which this model does not record: name "
            "it with --null-class",
            w));
    SamplingConfig sampling = loaded.config.sampling;
    sampling.sampler =
        resolve_sampler(sampling.sampler, *f.eval.sampler, loaded.schedule.num_train_timesteps);
    const auto& mc = loaded.config.model;
    const auto image = loaded.codec.image_shape(mc.in_channels, mc.sample_size);  // {C, S, S}
    auto net = make_feature_net(feature_net_options(f.eval), image[0], image[1], image[2]);
    EvalFlags ref_flags = f.eval;
    ref_flags.n = f.ref_n;
    auto ref_source = parse_feature_source(f.ref);
    if (ref_source.kind == SourceKind::model)
      throw std::invalid_argument("--ref " + f.ref + " is a model; give real images");
    auto reference = features_with_progress(ref_source, net.get(), ref_flags);

    ConditionalEvalOptions o;
    o.scales = f.scales;
    o.per_class = f.per_class;
    o.batch_size = f.eval.sample_batch_size;
    o.seed = f.eval.seed;
    fmt::print("model: {}; {} classes x {} samples per scale; sampler {}\n",
               describe(loaded, f.weights), loaded.config.classes.num_classes, f.per_class,
               describe_sampler(sampling.sampler));
    fs::create_directories(f.out);
    ProgressLine line(stderr);
    auto rows =
        evaluate_conditional(loaded, *net, reference.features, sampling, o,
                             [&](size_t i, size_t count, int64_t done, int64_t total) {
                               line.update(fmt::format("scale {}/{} (w = {:g})  {}/{} images",
                                                       i + 1, count, f.scales[i], done, total));
                             });
    line.finish();

    const auto& classes = loaded.config.classes;
    nlohmann::json table = nlohmann::json::array();
    for (const auto& r : rows) {
      nlohmann::json per_class = nlohmann::json::object();
      for (size_t k = 0; k < r.class_accuracy.size(); ++k)
        per_class[class_name(classes, int64_t(k))] = r.class_accuracy[k];
      table.push_back({{"guidance_scale", r.scale},
                       {"accuracy", r.accuracy},
                       {"class_accuracy", per_class},
                       {"fd", r.fd},
                       {"sample_seconds", r.seconds}});
    }
    nlohmann::json out{
        {"rows", table},
        {"protocol",
         {{"model", describe(loaded, f.weights)},
          {"samples_per_class", f.per_class},
          {"classes", classes.num_classes},
          {"null_class", classes.null_class},
          {"seed", f.eval.seed},
          {"x_T", "shared by every scale"},
          {"sampler", sampler_config_to_json(sampling.sampler)},
          {"classifier", net->weights()},
          {"reference", reference.description},
          {"fd", "Frechet distance of classifier features, balanced class mix vs reference"}}},
        {"seconds",
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
    write_file_atomic(fs::path(f.out) / "eval-conditional.json", out.dump(2) + "\n");
    write_png(fs::path(f.out) / "eval-conditional.png",
              conditional_plot(rows, fmt::format("{} per class, {}", f.per_class,
                                                 describe_sampler(sampling.sampler))),
              png_parameters({{"command", "eval-conditional"},
                              {"model", f.model},
                              {"sampler", sampler_config_to_json(sampling.sampler)},
                              {"per_class", f.per_class}}));
    fmt::print("{:>8} {:>10} {:>10} {:>10}\n", "w", "accuracy", "fd", "seconds");
    for (const auto& r : rows)
      fmt::print("{:>8g} {:>9.1f}% {:>10.3f} {:>10.1f}\n", r.scale, 100 * r.accuracy, r.fd,
                 r.seconds);
    fmt::print("wrote {}/eval-conditional.json and eval-conditional.png\n", f.out);
    return 0;
  };
}

}  // namespace ddpm::cli

// ddpm sweep --model PATH --steps 10,20,50,100 --eta 0,0.5,1 [--samplers SPEC...] [--ddpm-1000]:
// sample quality per sampler setting against network calls (the DDIM paper's Table 1 pattern,
// any sampler) as DIR/sweep.csv, sweep.png, sweep.json and the page DIR/index.html.
#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "class_flags.h"
#include "commands.h"
#include "enum_choices.h"
#include "eval/sampler_sweep.h"
#include "eval/sweep_page.h"
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

struct SweepFlags {
  std::string model;
  std::vector<int64_t> steps{10, 20, 50, 100};
  std::vector<double> etas{0.0, 0.5, 1.0};
  std::vector<std::string> specs;
  CLI::Option* steps_option = nullptr;
  CLI::Option* eta_option = nullptr;
  bool ddpm_full_chain = false;
  int64_t n = 1000;
  std::string ref;
  int64_t ref_n = 0;
  std::string out = "sweep";
  std::string metric = "fd";
  int64_t kid_subsets = 100;
  int64_t kid_subset_size = 1000;
  std::string weights;
  EvalFlags eval;
  std::shared_ptr<ClassFlags> classes;
};

}  // namespace

Run add_sweep(CLI::App& app) {
  auto flags = std::make_shared<SweepFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand(
      "sweep", "Sample quality (FD/FID, KID) per sampler setting: CSV table + PNG plot");
  cmd->footer(
      "Each setting draws --n samples from the same x_T (--seed) and compares their features with "
      "--ref (default fashion-mnist:test for Fashion-MNIST models). Writes DIR/sweep.csv, "
      "DIR/sweep.png, DIR/sweep.json (the protocol) and DIR/index.html (the charts and the table, "
      "offline). See docs/evaluation.md.");
  cmd->add_option("--model", f.model, kModelHelp)->required();
  f.steps_option =
      cmd->add_option("--steps", f.steps, "DDIM step counts, comma-separated (10,20,50,100)")
          ->delimiter(',');
  f.eta_option = cmd->add_option("--eta", f.etas, "DDIM eta values, comma-separated (0,0.5,1)")
                     ->delimiter(',');
  cmd->add_option("--samplers", f.specs,
                  "Any sampler, repeatable: NAME[/KEY=VALUE...]:STEPS,... e.g. "
                  "dpm-solver++:5,10,20  unipc:5,10  euler/use_karras_sigmas=true:10,20  "
                  "heun/use_karras_sigmas=true:5,10  ddim/eta=1:10,50  ddpm:0 (the full chain). "
                  "With --samplers, the DDIM --steps x --eta grid runs only when given")
      ->allow_extra_args(false);
  cmd->add_flag("--ddpm-1000", f.ddpm_full_chain,
                "Also sample with DDPM's ancestral chain over all T (1000) steps");
  cmd->add_option("--n", f.n, "Samples per setting")
      ->check(CLI::Range(int64_t(2), int64_t(1) << 40));
  cmd->add_option("--ref", f.ref,
                  "Reference images (a `ddpm fid` source; default fashion-mnist:test for "
                  "Fashion-MNIST models)");
  cmd->add_option("--ref-n", f.ref_n, "Reference images used (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--out", f.out, "Output folder (default sweep)");
  cmd->add_option("--metric", f.metric, "Plotted metric: fd (FID with --inception) or kid")
      ->check(enum_choices<SweepMetric>());
  cmd->add_option("--kid-subsets", f.kid_subsets, "KID subsets")->check(CLI::PositiveNumber);
  cmd->add_option("--kid-subset-size", f.kid_subset_size, "KID subset size (capped at --n)")
      ->check(CLI::Range(int64_t(2), int64_t(1) << 40));
  cmd->add_option("--weights", f.weights, kWeightsHelp)->check(enum_choices<WeightsKind>());
  cmd->add_option("--inception", f.eval.inception,
                  "FID Inception-v3 weights (.safetensors; docs/evaluation.md); without it the "
                  "Fashion-MNIST classifier's FD");
  cmd->add_option("--classifier", f.eval.classifier, "Fashion-MNIST classifier weights");
  cmd->add_option("--seed", f.eval.seed, "Seed of x_T and the sampler (shared by all settings)");
  cmd->add_option("--batch-size", f.eval.sample_batch_size, "Images per sampler call")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--device", f.eval.device, "auto, cpu, cuda or cuda:N");
  cmd->add_option("--threads", f.eval.threads, "CPU threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);

  f.classes = add_class_flags(*cmd);

  return [flags]() -> int {
    auto& f = *flags;
    const auto start = std::chrono::steady_clock::now();
    configure_cpu_threads(f.eval.threads);
    auto loaded = load_model_option(f.model, f.weights, parse_device(f.eval.device));
    apply_class_flags(*f.classes, loaded);
    const int64_t T = loaded.schedule.num_train_timesteps;
    const auto& base = loaded.config.sampling.sampler;
    std::vector<SamplerConfig> settings;
    const bool ddim_grid =
        f.specs.empty() || f.steps_option->count() > 0 || f.eta_option->count() > 0;
    if (ddim_grid) settings = ddim_sweep_settings(base, f.steps, f.etas, false, T);
    for (const auto& spec : f.specs)
      for (const auto& s : sweep_spec_settings(base, spec, T)) settings.push_back(s);
    if (f.ddpm_full_chain) settings.push_back(switch_sampler(base, SamplerKind::ddpm));
    std::string ref = f.ref;
    if (ref.empty()) {
      if (loaded.config.data.source != kFashionMnistSource)
        throw std::invalid_argument(
            "--ref is required: the model was not trained on "
            "Fashion-MNIST (give a folder of real images or a features "
            "file)");
      ref = "fashion-mnist:test";
    }
    auto ref_source = parse_feature_source(ref);
    if (ref_source.kind == SourceKind::model)
      throw std::invalid_argument("--ref " + ref + " is a model; give real images");
    EvalFlags ref_flags = f.eval;
    ref_flags.n = f.ref_n;
    // One network for the model's samples and the reference.
    const auto& mc = loaded.config.model;
    const auto image = loaded.codec.image_shape(mc.in_channels, mc.sample_size);  // {C, S, S}
    auto net = make_feature_net(feature_net_options(f.eval), image[0], image[1], image[2]);
    auto reference = features_with_progress(ref_source, net.get(), ref_flags);
    check_same_features({reference, reference});

    SweepOptions o;
    o.count = f.n;
    o.batch_size = f.eval.sample_batch_size;
    o.seed = f.eval.seed;
    if (auto labels = parsed_class_labels(*f.classes, loaded); labels.defined())
      o.class_labels = expand_class_labels(labels, f.n);
    o.kid.subsets = f.kid_subsets;
    o.kid.subset_size = f.kid_subset_size;
    o.kid.seed = f.eval.seed;
    fs::create_directories(f.out);
    ProgressLine line(stderr);
    auto rows =
        run_sampler_sweep(loaded, *net, reference.features, settings, o,
                          [&](size_t i, size_t count, int64_t done, int64_t total) {
                            const auto& s = settings[i];
                            line.update(fmt::format("setting {}/{} ({}, {} steps)  {}/{}", i + 1,
                                                    count, sweep_label(s), s.steps, done, total));
                          });
    line.finish();

    const auto metric = parse_enum<SweepMetric>(f.metric);
    const bool inception = net->name() == "fid-inception-v3";
    const std::string metric_name =
        metric == SweepMetric::kid ? "KID" : (inception ? "FID" : "FD (Fashion-MNIST classifier)");
    write_sweep_csv(fs::path(f.out) / "sweep.csv", rows);
    write_png(fs::path(f.out) / "sweep.png",
              render_plot(sweep_plot(rows, metric,
                                     fmt::format("{} of {} samples vs {}", metric_name, f.n, ref))),
              png_parameters({{"command", "sweep"},
                              {"model", f.model},
                              {"metric", f.metric},
                              {"n", f.n},
                              {"reference", ref}}));
    nlohmann::json table = nlohmann::json::array();
    for (const auto& r : rows)
      table.push_back({{"sampler", sampler_config_to_json(r.setting)},
                       {"label", sweep_label(r.setting)},
                       {"network_evaluations", r.network_evaluations},
                       {"fd", r.fd},
                       {"kid_mean", r.kid.mean},
                       {"kid_std", r.kid.std},
                       {"sample_seconds", r.sample_seconds},
                       {"seconds_per_image", r.sample_seconds / double(r.images)}});
    nlohmann::json out{
        {"rows", table},
        {"protocol",
         {{"model", describe(loaded, f.weights)},
          {"samples_per_setting", f.n},
          {"seed", f.eval.seed},
          {"x_T", "shared by every setting"},
          {"model_sampler", sampler_config_to_json(loaded.config.sampling.sampler)},
          {"reference", reference.description},
          {"features", feature_net_json(net.get(), {reference})},
          {"fd", inception ? "FID" : "Frechet distance of classifier features"},
          {"kid", fmt::format("unbiased MMD^2, cubic kernel, {} subsets of {}", o.kid.subsets,
                              std::min(o.kid.subset_size, f.n))}}},
        {"seconds",
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
    write_file_atomic(fs::path(f.out) / "sweep.json", out.dump(2) + "\n");
    write_report_page(
        f.out, sweep_report_page(rows, fmt::format("{} of {} samples vs {}", metric_name, f.n, ref),
                                 inception ? "FID" : "FD"));
    fmt::print("{:<28} {:>6} {:>12} {:>12} {:>10} {:>10}\n", "sampler", "calls", "fd", "kid",
               "seconds", "s/image");
    for (const auto& r : rows)
      fmt::print("{:<28} {:>6} {:>12.4f} {:>12.5f} {:>10.1f} {:>10.4f}\n", sweep_label(r.setting),
                 r.network_evaluations, r.fd, r.kid.mean, r.sample_seconds,
                 r.sample_seconds / double(r.images));
    fmt::print("wrote {0}/sweep.csv, sweep.png, sweep.json and the page {0}/index.html\n", f.out);
    return 0;
  };
}

}  // namespace ddpm::cli

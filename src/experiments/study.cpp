#include "experiments/study.h"

#include <fmt/format.h>

#include <fstream>

#include "data/dataset.h"
#include "experiments/figure.h"
#include "experiments/study_report.h"
#include "experiments/trajectory.h"
#include "io/atomic_file.h"
#include "io/image.h"
#include "models/denoiser.h"
#include "runs/checkpoint.h"
#include "runs/generate.h"
#include "runs/model_loading.h"
#include "runs/threads.h"
#include "samplers/noise_source.h"
#include "samplers/sampler_registry.h"
#include "training/loss_curves.h"

namespace ddpm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void check_config(const StudyConfig& c) {
  if (c.variants.empty()) throw std::invalid_argument("the study needs at least one variant");
  for (const auto& v : c.variants) preset_json(v);  // throws naming the allowed presets
  for (size_t i = 0; i < c.variants.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (c.variants[i] == c.variants[j])
        throw std::invalid_argument("variant '" + c.variants[i] + "' is listed twice");
  if (c.budget < 0) throw std::invalid_argument("the step budget must be >= 0 (0: the presets')");
  if (c.batch_size < 0)
    throw std::invalid_argument("the batch size must be >= 0 (0: the presets')");
  if (c.grid_images < 1 || c.strip_images < 1 || c.strip_images > c.grid_images)
    throw std::invalid_argument(fmt::format(
        "expected 1 <= strip images <= grid images, got {} and {}", c.strip_images, c.grid_images));
  if (c.strip_steps < 1 || c.ddpm_steps < 0)
    throw std::invalid_argument("strip steps must be >= 1 and DDPM steps >= 0 (0: every step)");
  for (int64_t s : c.ddim_grid_steps)
    if (s < 1) throw std::invalid_argument("DDIM grid steps must be >= 1");
  if (!c.patch.is_object())
    throw std::invalid_argument("the study's config patch must be a JSON object");
  if (c.patch.contains("preset"))
    throw std::invalid_argument(
        "the study's --config may not name a preset: it trains each of the variants");
}

/// The JSON pointer of the first difference between two configs, ignoring the step budget.
std::string first_difference(json a, json b) {
  for (auto* j : {&a, &b})
    if (j->contains("training")) (*j)["training"].erase("steps");
  auto patch = json::diff(a, b);
  return patch.empty() ? "" : patch[0].value("path", std::string("?"));
}

std::string latest_grid(const fs::path& dir, const std::string& variant) {
  std::string latest;
  const fs::path samples = dir / variant / "samples";
  if (!fs::is_directory(samples)) return latest;
  for (const auto& entry : fs::directory_iterator(samples))
    if (entry.path().extension() == ".png") {
      const std::string rel = variant + "/samples/" + entry.path().filename().string();
      if (rel > latest) latest = rel;
    }
  return latest;
}

}  // namespace

StudyResult run_study(const StudyConfig& config, const fs::path& dir, const StudyEvents& events,
                      const std::atomic<bool>* stop) {
  check_config(config);
  configure_cpu_threads(config.threads);
  const auto device = parse_device(config.device);
  auto stage = [&](const std::string& m) {
    if (events.on_stage) events.on_stage(m);
  };
  auto stopped = [&] { return stop && stop->load(); };

  StudyResult result;
  result.config = config;
  result.dir = dir;
  result.figure_kinds.push_back(
      {fmt::format("ddim{}_strip", config.strip_steps),
       fmt::format("DDIM-{}, every step", config.strip_steps),
       "x_t (upper row) and the predicted x̂_0 (lower row) of each sample, from x_T to x_0"});
  for (int64_t s : config.ddim_grid_steps)
    result.figure_kinds.push_back({fmt::format("ddim{}", s), fmt::format("DDIM-{}", s),
                                   "final samples, deterministic DDIM (η = 0)"});

  // 1. Configs, data (loaded once per distinct data section) and training.
  json common = json::object();
  common["data"]["source"] = config.data;
  if (config.image_size > 0) common["data"]["image_size"] = config.image_size;
  common["training"]["seed"] = config.seed;
  common["training"]["device"] = config.device;
  common["training"]["threads"] = config.threads;
  if (config.budget > 0) common["training"]["steps"] = config.budget;
  if (config.batch_size > 0) common["training"]["batch_size"] = config.batch_size;
  const std::vector<json> patches{config.patch, common};
  std::map<std::string, Dataset> datasets;
  fs::create_directories(dir);

  for (size_t v = 0; v < config.variants.size(); ++v) {
    const auto& name = config.variants[v];
    RunConfig rc = resolve_run_config(name, patches);
    const std::string data_key = to_json(rc.data).dump();
    if (!datasets.count(data_key)) {
      stage(fmt::format("loading data: {}", config.data));
      datasets[data_key] = load_dataset(rc.data);
    }
    const Dataset& data = datasets.at(data_key);
    resolve_data_shape(rc, patches, data.image_size, data.channels);
    rc.data = resolved_data_config(rc.data, data);
    result.image_size = data.image_size;
    result.channels = data.channels;
    result.train_images = data.train.size(0);
    result.validation_images = data.validation.size(0);

    const fs::path run = dir / name;
    StudyVariant variant;
    variant.name = name;
    bool train = true, resume = false;
    if (checkpoint_exists(run / "checkpoints/latest")) {
      std::ifstream in(run / "config.json");
      json existing;
      try {
        existing = json::parse(in);
      } catch (const json::exception& e) {
        throw std::runtime_error((run / "config.json").string() + ": " + e.what());
      }
      if (auto key = first_difference(existing, to_json(rc)); !key.empty())
        throw std::invalid_argument(fmt::format(
            "{} holds a run whose config differs from this study's at {}: use another --out or "
            "remove that folder",
            run.string(), key));
      const int64_t done =
          read_checkpoint(run / "checkpoints/latest", false).state.value("step", int64_t(0));
      train = done < rc.training.steps || rc.training.steps == 0;
      resume = true;
      variant.reused = !train;
    }
    if (train) {
      stage(fmt::format("{} {} ({}/{}) into {}", resume ? "resuming" : "training", name, v + 1,
                        config.variants.size(), run.string()));
      Trainer trainer(rc, data, run);
      if (resume) trainer.resume();
      TrainEvents te;
      te.on_progress = [&](const TrainProgress& p) {
        if (events.on_train) events.on_train(name, p);
      };
      trainer.run(te, stop);
      if (stopped()) {
        result.interrupted = true;
        return result;
      }
    } else {
      stage(
          fmt::format("reusing {} ({}/{}): already trained", name, v + 1, config.variants.size()));
    }
    result.num_train_timesteps = rc.schedule.num_train_timesteps;
    auto state = read_checkpoint(run / "checkpoints/latest", false).state;
    variant.steps = state.value("step", int64_t(0));
    variant.train_seconds = state.value("seconds", 0.0);
    result.variants.push_back(variant);
  }

  const int64_t ddpm_steps = config.ddpm_steps > 0 ? config.ddpm_steps : result.num_train_timesteps;
  result.figure_kinds.push_back({fmt::format("ddpm{}", ddpm_steps),
                                 fmt::format("DDPM-{}", ddpm_steps),
                                 "final samples, ancestral sampling (DDPM Algorithm 2)"});

  // 2. Figures: the same x_T for every model and weight set.
  for (auto& variant : result.variants) {
    for (const char* weights : {"ema", "raw"}) {
      if (stopped()) {
        result.interrupted = true;
        return result;
      }
      stage(fmt::format("figures {} {}", variant.name, weights));
      auto loaded = load_model(dir / variant.name, parse_enum<WeightsKind>(weights), device);
      const auto& mc = loaded.config.model;
      const int64_t T = loaded.schedule.num_train_timesteps;
      if (variant.parameters == 0)
        for (const auto& p : loaded.model->parameters()) variant.parameters += p.numel();
      torch::Generator noise = at::detail::createCPUGenerator(config.seed);
      auto x_T = draw_noise({config.grid_images, mc.in_channels, mc.sample_size, mc.sample_size},
                            torch::kFloat32, noise)
                     .to(device);
      auto denoise = sampling_denoise_fn(loaded.model, loaded.schedule, loaded.config);
      const auto prediction = loaded.config.prediction_type;
      const fs::path figures = dir / variant.name / "figures";
      auto& paths = variant.figures[weights];
      auto progress = [&](const std::string& what) -> StepCallback {
        if (!events.on_sample) return {};
        return [&events, what](const SamplerStep& s) { events.on_sample(what, s); };
      };
      json common_numbers{{"model", variant.name},
                          {"weights", weights},
                          {"seed", config.seed},
                          {"step", loaded.step},
                          {"prediction_type", to_string(prediction)}};

      // DDIM per-step strip: x_t and x̂_0 rows per sample, every state.
      {
        SamplerConfig s = switch_sampler(loaded.config.sampling.sampler, SamplerKind::ddim);
        s.steps = config.strip_steps;
        s.eta = 0.0;
        const auto ts = sampler_timesteps(s, loaded.schedule);
        torch::Generator gen = at::detail::createCPUGenerator(config.seed + 1);
        TrajectoryRequest request;
        request.max_columns = int64_t(ts.size()) + 1;
        SamplerInputs inputs{denoise, loaded.schedule, prediction, batch_noise(gen),
                             progress(fmt::format("{} {} DDIM-{} strip", variant.name, weights,
                                                  config.strip_steps))};
        auto traj = sample_trajectory(inputs, s, x_T.slice(0, 0, config.strip_images), request);
        auto tiles = torch::stack({traj.x_t, traj.pred_x0}, 1).flatten(0, 1);  // [2N, K, ...]
        const auto& key = result.figure_kinds[0].key;
        const fs::path png = figures / fmt::format("{}_{}.png", weights, key);
        json numbers = common_numbers;
        numbers["sampler"] = sampler_config_to_json(s);
        numbers["timesteps"] = ts;
        numbers["rows"] = "x_t, predicted x0 per sample";
        numbers["column_timesteps"] = traj.timesteps;
        write_figure(png, figure_image(tiles, loaded.codec), numbers);
        paths[key] = variant.name + "/figures/" + png.filename().string();
      }
      // Final grids.
      auto grid = [&](const std::string& key, const SamplerConfig& s, const std::string& what) {
        torch::Generator gen = at::detail::createCPUGenerator(config.seed + 1);
        auto x0 = run_sampler(
            s, {denoise, loaded.schedule, prediction, batch_noise(gen), progress(what)}, x_T);
        const fs::path png = figures / fmt::format("{}_{}.png", weights, key);
        json numbers = common_numbers;
        numbers["sampler"] = sampler_config_to_json(s);
        numbers["steps"] = network_evaluations(s, loaded.schedule);
        write_figure(png,
                     figure_image(grid_tiles(x0, square_grid_columns(x0.size(0))), loaded.codec),
                     numbers);
        paths[key] = variant.name + "/figures/" + png.filename().string();
      };
      for (size_t g = 0; g < config.ddim_grid_steps.size(); ++g) {
        SamplerConfig s = switch_sampler(loaded.config.sampling.sampler, SamplerKind::ddim);
        s.steps = config.ddim_grid_steps[g];
        s.eta = 0.0;
        grid(result.figure_kinds[1 + g].key, s,
             fmt::format("{} {} DDIM-{}", variant.name, weights, s.steps));
      }
      SamplerConfig s = switch_sampler(loaded.config.sampling.sampler, SamplerKind::ddpm);
      s.steps = config.ddpm_steps;  // 0: every step
      grid(result.figure_kinds.back().key, s,
           fmt::format("{} {} DDPM-{}", variant.name, weights, ddpm_steps));
    }
    variant.latest_training_grid = latest_grid(dir, variant.name);
  }

  // 3. Loss curves and the page.
  stage("loss curves and index.html");
  std::vector<LossCurve> curves;
  for (auto& variant : result.variants) {
    curves.push_back(read_loss_curve(dir / variant.name, variant.name, config.smoothing));
    variant.final_loss = curves.back().loss.back();
    variant.final_smoothed = curves.back().smoothed.back();
  }
  LossPlotOptions plot;
  plot.title = fmt::format("training loss (smoothed {}, raw faint)", config.smoothing);
  result.loss_plot = loss_plot(curves, plot);
  write_png(dir / "loss.png", render_plot(result.loss_plot),
            png_parameters({{"command", "study"}, {"figure", "loss"}}));
  write_file_atomic(dir / "loss.csv", loss_curves_csv(curves));
  write_study_report(dir, result);
  return result;
}

}  // namespace ddpm

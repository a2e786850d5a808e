#include "training/trainer.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "data/transforms.h"
#include "io/atomic_file.h"
#include "io/grid.h"
#include "io/image.h"
#include "models/conv3x3.h"
#include "models/state_dict.h"
#include "runs/checkpoint.h"
#include "runs/class_labels.h"
#include "runs/generate.h"
#include "runs/model_loading.h"
#include "runs/threads.h"
#include "training/gradients.h"
#include "training/label_dropout.h"
#include "training/latent_cache.h"
#include "training/non_finite.h"
#include "training/train_step.h"

namespace ddpm {

namespace fs = std::filesystem;

namespace {

/// Refuses a checkpoint whose weights or optimizer state hold an inf or NaN.
void check_finite(const Checkpoint& c, const fs::path& dir) {
  for (const auto* part : {&c.model, &c.ema, &c.optimizer})
    if (auto name = first_non_finite(*part))
      throw std::runtime_error(
          fmt::format("{}: not written: {} holds an inf or NaN (any previous checkpoint is kept)",
                      dir.string(), *name));
}

}  // namespace

Trainer::Trainer(RunConfig config, Dataset data, fs::path run_dir, std::optional<Codec> codec,
                 DataParallel parallel)
    : config_(std::move(config)),
      data_(std::move(data)),
      codec_(codec ? *codec : Codec(data_.normalization)),
      run_dir_(std::move(run_dir)),
      device_(parse_device(config_.training.device)),
      schedule_(make_noise_schedule(config_.schedule)),
      noise_generator_(at::detail::createCPUGenerator(config_.training.seed + 1)),
      augment_generator_(at::detail::createCPUGenerator(config_.training.seed + 2)),
      labels_generator_(at::detail::createCPUGenerator(config_.training.seed + 3)),
      group_(std::move(parallel.group)) {
  const auto& tc = config_.training;
  if (group_ && tc.batch_size % group_->size() != 0)
    throw std::invalid_argument(fmt::format(
        "training.batch_size (--batch-size) is the global batch and must be a multiple of the {} "
        "ranks; got {}",
        group_->size(), tc.batch_size));
  const auto& mc = config_.model;
  const auto image = codec_.image_shape(mc.in_channels, mc.sample_size);  // {C, S, S}
  if (data_.image_size != image[1] || data_.channels != image[0])
    throw std::invalid_argument(
        fmt::format("the model{} takes {}x{}x{} images but the data is {}x{}x{}",
                    codec_.is_latent() ? " (through its autoencoder)" : "", image[0], image[1],
                    image[2], data_.channels, data_.image_size, data_.image_size));
  if (codec_.is_latent()) {
    const auto& a = codec_.autoencoder()->config();
    const int64_t latent = a.kind == AutoencoderKind::vq ? codebook_dim(a) : a.latent_channels;
    if (mc.in_channels != latent || mc.sample_size != latent_shape(a)[1])
      throw std::invalid_argument(
          fmt::format("the model takes {}x{}x{} inputs but the autoencoder's latents are {}x{}x{}",
                      mc.in_channels, mc.sample_size, mc.sample_size, latent, latent_shape(a)[1],
                      latent_shape(a)[2]));
    if (config_.data.hflip)
      throw std::invalid_argument(
          "data.hflip with an autoencoder: the latents are computed once from the unflipped "
          "images; turn hflip off for latent runs");
    if (config_.data.normalization != Normalization::minus_one_one)
      throw std::invalid_argument(
          "an autoencoder sees [-1,1] images: data.normalization must be \"[-1,1]\" for latent "
          "runs");
  }
  const auto& classes = config_.classes;
  if (classes.conditional) {
    if (!data_.train_labels)
      throw std::invalid_argument("a class-conditional run needs labelled data: " +
                                  data_.no_labels_reason);
    if (mc.num_class_embeds != classes.num_classes + 1 || classes.null_class != classes.num_classes)
      throw std::invalid_argument(fmt::format(
          "a class-conditional run needs model.num_class_embeds = K + 1 and classes.null_class "
          "= K; got num_class_embeds {}, K = {}, null_class {}",
          mc.num_class_embeds, classes.num_classes, classes.null_class));
    if (data_.train_labels->size(0) != data_.train.size(0) ||
        (data_.train_labels->numel() > 0 &&
         data_.train_labels->max().item<int64_t>() >= classes.num_classes))
      throw std::invalid_argument(
          fmt::format("the data's labels do not fit the run's {} classes", classes.num_classes));
  } else if (mc.num_class_embeds > 0) {
    throw std::invalid_argument(
        "the model is class-conditional (num_class_embeds > 0) but the run is not: set "
        "classes.conditional (ddpm train --class-conditional)");
  }
  configure_cpu_threads(tc.threads);
  check_precision(tc.precision, device_);
  check_precision(config_.sampling.precision, device_);
  loss_scaler_ = LossScaler(tc.precision == Precision::fp16);
  if (tc.eval_every > 0 &&
      writes_files())  // before any file is written: a data/network mismatch fails cleanly
    metric_ = std::make_unique<ValidationMetric>(config_.training, data_.validation, data_.channels,
                                                 data_.image_size);

  torch::manual_seed(tc.seed);  // weight init and dropout
  model_ = UNet(mc);
  model_->to(device_);
  model_->train();
  ema_ = std::make_unique<EMA>(model_);
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (auto& p : model_->named_parameters(true)) params.emplace_back(p.key(), p.value());
  optimizer_ = std::make_unique<AdamW>(
      params, AdamWOptions{tc.weight_decay, tc.adam_beta1, tc.adam_beta2, tc.adam_eps});
  loader_ = std::make_unique<BatchLoader>(data_.train, tc.batch_size, tc.seed);
  if (group_) {
    std::vector<torch::Tensor> parameters;
    for (auto& p : params) parameters.push_back(p.second);
    reducer_ = std::make_unique<BucketedAllReduce>(group_, parameters, parallel.buckets);
    if (parallel.sync_batch_norm) sync_batch_norm_ = std::make_unique<SyncBatchNorm>(group_);
  }
  train_step_ = std::make_unique<TrainStep>(
      model_, *optimizer_, loss_scaler_, schedule_,
      TrainStepOptions{config_.prediction_type, tc.loss, tc.precision, tc.grad_clip},
      reducer_.get());

  total_steps_ = tc.steps > 0 ? tc.steps : tc.epochs * loader_->batches_per_epoch();
  if (total_steps_ <= 0)
    throw std::invalid_argument("set training.steps (--steps) or training.epochs (--epochs)");

  if (!writes_files()) return;
  fs::create_directories(run_dir_ / "samples");
  fs::create_directories(run_dir_ / "checkpoints");
  write_file_atomic(run_dir_ / "config.json", to_json(config_).dump(2) + "\n");
}

void Trainer::meet(const std::string& tag) {
  if (group_) group_->meet(tag);
}

void Trainer::prepare_latents(const std::function<void(int64_t, int64_t)>& progress) {
  if (!codec_.is_latent() || train_latents_.defined()) return;
  // Rank 0 encodes and writes the cache; the others then read it.
  if (writes_files())
    train_latents_ =
        cached_latents(run_dir_ / "latents.safetensors", codec_, data_.train, progress);
  meet("latents");
  if (!writes_files())
    train_latents_ = cached_latents(run_dir_ / "latents.safetensors", codec_, data_.train);
}

void Trainer::resume() {
  auto c = read_checkpoint(run_dir_ / "checkpoints/latest", /*with_optimizer=*/true);
  load_state_dict(*model_, c.model, (run_dir_ / "checkpoints/latest/model.safetensors").string());
  load_state_dict(*ema_->model(), c.ema,
                  (run_dir_ / "checkpoints/latest/ema.safetensors").string());
  optimizer_->load_state(c.optimizer);
  step_ = c.state.at("step").get<int64_t>();
  elapsed_seconds_ = c.state.value("seconds", 0.0);
  if (c.state.contains("generators")) {
    const auto& g = c.state.at("generators");
    restore_generator_state(noise_generator_, g.at("noise").get<std::string>());
    restore_generator_state(augment_generator_, g.at("augment").get<std::string>());
    restore_generator_state(labels_generator_, g.at("labels").get<std::string>());
  } else {  // runs before issue 16 drew everything from one generator: it continues as t and ε
    restore_generator_state(noise_generator_, c.state.at("generator").get<std::string>());
  }
  at::Generator global = at::detail::getDefaultCPUGenerator();
  restore_generator_state(global, c.state.at("global_generator").get<std::string>());
  loader_->restore(
      {c.state.at("loader_epoch").get<int64_t>(), c.state.at("loader_position").get<int64_t>()});
  if (loss_scaler_.enabled() && c.state.contains("loss_scaler"))
    loss_scaler_.load_state(c.state.at("loss_scaler"));
  // The 3×3 convolution algorithms the run trained with (policy auto): the resumed steps take the
  // same ones, not a new measurement that may decide a near-tie otherwise.
  if (c.state.contains("conv3x3_choices"))
    pin_conv3x3_choices(conv3x3_choices_from_json(c.state.at("conv3x3_choices")));
  // The best validation metric so far: checkpoints/best/ is the truth (it may be newer than
  // latest after a kill), else what latest recorded.
  auto read_best = [&](const nlohmann::json& state, const char* value_key, const char* step_key) {
    if (state.contains(value_key) && state[value_key].is_number()) {
      best_eval_ = state[value_key].get<double>();
      best_eval_step_ = state.value(step_key, int64_t(-1));
    }
  };
  read_best(c.state, "best_eval", "best_eval_step");
  if (checkpoint_exists(run_dir_ / "checkpoints/best")) {
    std::ifstream in(complete_checkpoint_dir(run_dir_ / "checkpoints/best") / "state.json");
    const auto best = nlohmann::json::parse(in);
    if (best.contains("eval")) read_best(best["eval"], "value", "step");
  }
  latest_step_ = step_;
  started_ = true;
}

void Trainer::load_init_weights() {
  const auto& tc = config_.training;
  auto loaded = load_model(tc.init, tc.init_weights, torch::kCPU);
  const auto differences = architecture_differences(loaded.config.model, config_.model);
  if (!differences.empty())
    throw std::invalid_argument(
        fmt::format("training.init {}: that model's architecture differs from the run's in {}",
                    tc.init, fmt::join(differences, ", ")));
  const auto weights = state_dict(*loaded.model);
  load_state_dict(*model_, weights, loaded.weights_file.string());
  load_state_dict(*ema_->model(), weights, loaded.weights_file.string());
}

Checkpoint Trainer::make_checkpoint() {
  Checkpoint c;
  c.model = state_dict(*model_);
  c.ema = state_dict(*ema_->model());
  c.optimizer = optimizer_->state();
  const auto loader_state = loader_->state();
  c.state = {{"step", step_},
             {"seconds", elapsed_seconds_},
             {"generators",
              {{"noise", generator_state_hex(noise_generator_)},
               {"augment", generator_state_hex(augment_generator_)},
               {"labels", generator_state_hex(labels_generator_)}}},
             {"world_size", world_size()},
             {"global_generator", generator_state_hex(at::detail::getDefaultCPUGenerator())},
             {"loader_epoch", loader_state.epoch},
             {"loader_position", loader_state.position}};
  if (loss_scaler_.enabled()) c.state["loss_scaler"] = loss_scaler_.state();
  if (const auto choices = conv3x3_choices(); !choices.empty())
    c.state["conv3x3_choices"] = conv3x3_choices_to_json(choices);
  if (!std::isnan(best_eval_)) {
    c.state["best_eval"] = best_eval_;
    c.state["best_eval_step"] = best_eval_step_;
  }
  return c;
}

void Trainer::save_checkpoint() {
  if (!writes_files()) return;
  const auto dir = run_dir_ / "checkpoints/latest";
  const auto c = make_checkpoint();
  check_finite(c, dir);
  write_checkpoint(dir, c);
  latest_step_ = step_;
}

double Trainer::evaluate() {
  if (!metric_) throw std::logic_error("Trainer::evaluate: training.eval_every is 0");
  const double value = metric_->evaluate(ema_->model(), schedule_, config_.prediction_type,
                                         config_.sampling, codec_, config_.classes);
  if (!std::isnan(value) && (std::isnan(best_eval_) || value < best_eval_)) {
    best_eval_ = value;
    best_eval_step_ = step_;
    auto c = make_checkpoint();
    c.state["eval"] = {{"metric", metric_->name()},
                       {"value", value},
                       {"step", step_},
                       {"protocol", metric_->protocol()}};
    check_finite(c, run_dir_ / "checkpoints/best");
    write_checkpoint(run_dir_ / "checkpoints/best", c);
  }
  return value;
}

fs::path Trainer::save_sample_grid() {
  const auto& tc = config_.training;
  SamplingConfig sampling = config_.sampling;
  sampling.sampler = switch_sampler(sampling.sampler, SamplerKind::ddim);
  sampling.sampler.steps = std::min(tc.sample_steps, schedule_.num_train_timesteps);
  sampling.sampler.eta = 0.0;
  GenerateRequest request;
  request.count = tc.sample_images;
  request.batch_size = std::min<int64_t>(tc.sample_images, 64);
  request.seed = tc.seed;  // the same x_T at every step, so grids show progress
  request.classes = config_.classes;
  GridOptions grid;
  grid.columns = int64_t(std::ceil(std::sqrt(double(tc.sample_images))));
  std::vector<std::string> row_names;
  if (config_.classes.conditional) {  // one row per class, as many columns as fit the budget
    const int64_t K = config_.classes.num_classes;
    grid.columns = std::max<int64_t>(1, tc.sample_images / K);
    request.count = K * grid.columns;
    request.batch_size = std::min<int64_t>(request.count, 64);
    request.class_labels = class_rows(K, grid.columns);
    for (int64_t k = 0; k < K; ++k) row_names.push_back(class_name(config_.classes, k));
  }
  auto samples = generate(ema_->model(), schedule_, config_.prediction_type, sampling, request);
  auto images = codec_.to_uint8(samples);
  auto path = run_dir_ / "samples" / fmt::format("step_{:06d}.png", step_);
  nlohmann::json parameters{{"command", "train"},
                            {"model", run_dir_.string()},
                            {"weights", "ema"},
                            {"step", step_},
                            {"sampler", sampler_config_to_json(sampling.sampler)},
                            {"guidance_scale", sampling.guidance_scale},
                            {"seed", request.seed},
                            {"count", request.count}};
  if (request.class_labels.defined())
    parameters["class_labels"] =
        std::vector<int64_t>(request.class_labels.data_ptr<int64_t>(),
                             request.class_labels.data_ptr<int64_t>() + request.count);
  if (!row_names.empty()) {
    write_png(path, make_labelled_grid(images, row_names, grid), png_parameters(parameters));
    return path;
  }
  write_png(path, make_grid(images, grid), png_parameters(parameters));
  return path;
}

void Trainer::run(const TrainEvents& events, const std::atomic<bool>* stop) {
  const auto& tc = config_.training;
  if (!started_ && !tc.init.empty()) load_init_weights();
  started_ = true;
  prepare_latents();
  if (group_) {             // the same weights everywhere, as DDP's constructor ensures
    group_->meet("start");  // however long each rank took to load its data
    broadcast_from_rank0(*group_, *model_);
    broadcast_from_rank0(*group_, *ema_->model());
  }
  std::optional<TrainingLog> log;
  if (writes_files())
    log.emplace(run_dir_ / "log.csv", step_, metric_ ? "eval_" + metric_->name() : "");
  using clock = std::chrono::steady_clock;
  double window_seconds = 0;        // optimizer steps only: grids and checkpoints are not training
  double window_loss = 0;           // summed over the window's finite losses
  double window_communication = 0;  // seconds waiting for the gradient all-reduce
  int64_t window_steps = 0, window_finite = 0;
  const int64_t first_step = step_;
  double last_eval = std::numeric_limits<double>::quiet_NaN(), last_eval_seconds = 0;
  auto report = [&](double lr, double grad_norm,
                    double eval_now = std::numeric_limits<double>::quiet_NaN()) {
    TrainProgress p;
    p.step = step_;
    p.total_steps = total_steps_;
    p.loss = window_finite  ? window_loss / double(window_finite)
             : window_steps ? std::numeric_limits<double>::quiet_NaN()
                            : 0.0;
    p.lr = lr;
    p.images_per_second =
        window_seconds > 0 ? double(window_steps * tc.batch_size) / window_seconds : 0;
    p.elapsed_seconds = elapsed_seconds_;
    p.eta_seconds =
        window_steps ? window_seconds / double(window_steps) * double(total_steps_ - step_) : 0;
    p.communication_share = window_seconds > 0 ? window_communication / window_seconds : 0;
    if (metric_) {
      p.eval_name = metric_->name();
      p.eval = last_eval;
      p.best_eval = best_eval_;
      p.best_eval_step = best_eval_step_;
      p.eval_seconds = last_eval_seconds;
    }
    window_seconds = 0;
    window_communication = 0;
    window_loss = 0;
    window_steps = 0;
    window_finite = 0;
    if (!writes_files()) return;  // progress is rank 0's to show
    log->append(step_, p.loss, lr, grad_norm, p.images_per_second, elapsed_seconds_, eval_now);
    if (events.on_progress) events.on_progress(p);
  };

  const int64_t global_batch = tc.batch_size;
  const int64_t local_batch = global_batch / world_size();
  const int64_t first_row = int64_t(rank()) * local_batch;
  double lr = 0, grad_norm = 0;
  BadSteps bad_steps(tc.max_bad_steps);
  // One process stops after the step in hand; ranks agree at the next step's all-reduce.
  auto stop_now = [&] { return stop && stop->load(); };
  bool stopping = !group_ && stop_now();
  while (step_ < total_steps_ && !stopping) {
    const auto t0 = clock::now();
    // Every draw is made for the global batch, in the same order on every rank, and sliced:
    // rank r trains on rows [r b, (r + 1) b) with exactly the draws one process would make.
    auto rows = loader_->next_indices();  // int64 [B]
    torch::Tensor x0;                     // [b, C, H, W] in model space
    if (codec_.is_latent()) {
      x0 = train_latents_.index_select(0, rows.narrow(0, first_row, local_batch))
               .to(device_);  // computed once
    } else {
      auto batch = data_.train.index_select(0, rows);  // uint8 [B, C, H, W]
      if (config_.data.hflip) batch = random_hflip(batch, augment_generator_);
      x0 = codec_.encode(batch.narrow(0, first_row, local_batch)).to(device_);
    }
    torch::Tensor labels;  // int64 [b], dropped ones set to the null class
    if (config_.classes.conditional)
      labels = drop_labels(data_.train_labels->index_select(0, rows), tc.label_dropout,
                           config_.classes.null_class, labels_generator_)
                   .narrow(0, first_row, local_batch)
                   .to(device_);
    const auto shape = x0.sizes().vec();
    std::vector<int64_t> global_shape = shape;
    global_shape[0] = global_batch;
    const auto draws = draw_training_noise(schedule_, global_shape, noise_generator_)
                           .slice(first_row, local_batch);
    lr = warmup_lr(tc.lr, step_, tc.warmup_steps);
    const auto outcome =
        train_step_->run({x0, draws.t, draws.noise, labels}, lr, ema_.get(),
                         ema_decay_at(tc.ema_decay, step_, tc.ema_warmup), stop_now());
    stopping = outcome.stop;  // any rank's signal stops every rank after this step
    grad_norm = outcome.grad_norm;
    const std::string& bad = outcome.bad;
    ++step_;
    ++window_steps;
    const int64_t in_a_row = bad_steps.record(step_, bad);
    if (bad.empty()) {
      window_loss += outcome.loss;
      ++window_finite;
    } else {
      if (events.on_bad_step && writes_files()) events.on_bad_step(step_, bad, in_a_row);
      if (bad_steps.exhausted()) {
        if (window_steps) report(lr, grad_norm);
        throw bad_steps.diverged(step_, latest_step_,
                                 tc.grad_clip > 0 ? "Lower training.lr (--lr)"
                                                  : "Lower training.lr (--lr) or clip gradients "
                                                    "(training.grad_clip, --grad-clip)");
      }
    }
    const double step_seconds = std::chrono::duration<double>(clock::now() - t0).count();
    elapsed_seconds_ += step_seconds;
    window_seconds += step_seconds;
    window_communication += last_communication_seconds();

    // The run folder's work, rank 0's alone; the other ranks wait for it (not training time).
    const bool eval_due = tc.eval_every > 0 && step_ % tc.eval_every == 0;
    const bool grid_due = tc.sample_every > 0 && step_ % tc.sample_every == 0;
    const bool checkpoint_due = tc.checkpoint_every > 0 && step_ % tc.checkpoint_every == 0;
    double eval_now = std::numeric_limits<double>::quiet_NaN();
    if (metric_ && eval_due) {
      const auto e0 = clock::now();
      eval_now = last_eval = evaluate();
      last_eval_seconds = std::chrono::duration<double>(clock::now() - e0).count();
      if (best_eval_step_ == step_ && events.on_file)
        events.on_file("best", run_dir_ / "checkpoints/best");
    }
    if (step_ % tc.log_every == 0 || !std::isnan(eval_now)) report(lr, grad_norm, eval_now);
    if (grid_due && writes_files()) {
      auto path = save_sample_grid();
      if (events.on_file) events.on_file("samples", path);
    }
    if (checkpoint_due && writes_files()) {
      save_checkpoint();
      if (events.on_file) events.on_file("checkpoint", run_dir_ / "checkpoints/latest");
    }
    if (eval_due || grid_due || checkpoint_due) meet(fmt::format("step-{}", step_));
    if (!group_ && stop_now()) stopping = true;  // one process: stop after the step in hand
  }
  if (window_steps) report(lr, grad_norm);
  if (writes_files()) {
    if (step_ != first_step || !checkpoint_exists(run_dir_ / "checkpoints/latest")) {
      save_checkpoint();
      if (events.on_file) events.on_file("checkpoint", run_dir_ / "checkpoints/latest");
    }
    if (step_ == total_steps_ && (tc.sample_every == 0 || step_ % tc.sample_every != 0)) {
      auto path = save_sample_grid();
      if (events.on_file) events.on_file("samples", path);
    }
  }
  meet(fmt::format("end-{}", step_));
}

}  // namespace ddpm

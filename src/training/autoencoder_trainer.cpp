#include "training/autoencoder_trainer.h"

#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "io/atomic_file.h"
#include "io/grid.h"
#include "io/image.h"
#include "models/state_dict.h"
#include "runs/autoencoder_format.h"
#include "runs/checkpoint.h"
#include "runs/model_loading.h"
#include "runs/threads.h"
#include "training/ema.h"
#include "training/gradients.h"
#include "training/non_finite.h"
#include "training/training_log.h"

namespace ddpm {

namespace fs = std::filesystem;

namespace {}  // namespace

AutoencoderTrainer::AutoencoderTrainer(AutoencoderRunConfig config, Dataset data, fs::path run_dir)
    : config_(std::move(config)),
      data_(std::move(data)),
      run_dir_(std::move(run_dir)),
      device_(parse_device(config_.training.device)),
      generator_(at::detail::createCPUGenerator(config_.training.seed + 1)) {
  const auto& tc = config_.training;
  const auto& mc = config_.model;
  validate(mc);
  if (mc.in_channels != mc.out_channels)
    throw std::invalid_argument(fmt::format(
        "an autoencoder reconstructs its input: in_channels ({}) must equal out_channels ({})",
        mc.in_channels, mc.out_channels));
  if (data_.image_size != mc.sample_size || data_.channels != mc.in_channels)
    throw std::invalid_argument(fmt::format(
        "the autoencoder takes {}x{}x{} images but the data is {}x{}x{}", mc.in_channels,
        mc.sample_size, mc.sample_size, data_.channels, data_.image_size, data_.image_size));
  if (config_.data.normalization != Normalization::minus_one_one)
    throw std::invalid_argument(
        "an autoencoder trains on [-1,1] images (data.normalization \"[-1,1]\"), as diffusers' "
        "VAEs; mean-std is for pixel diffusion models");
  if (data_.train.size(0) < tc.batch_size)
    throw std::invalid_argument(
        fmt::format("the data has {} training images, fewer than one batch "
                    "of {} (lower --batch-size)",
                    data_.train.size(0), tc.batch_size));
  configure_cpu_threads(tc.threads);
  torch::manual_seed(tc.seed);  // weight init
  model_ = Autoencoder(mc);
  model_->to(device_);
  model_->train();
  ema_ = Autoencoder(mc);
  load_state_dict(*ema_, state_dict(*model_), "EMA copy");
  ema_->to(device_);
  for (auto& p : ema_->parameters()) p.set_requires_grad(false);
  ema_->eval();
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (auto& p : model_->named_parameters(true)) params.emplace_back(p.key(), p.value());
  optimizer_ = std::make_unique<AdamW>(
      params, AdamWOptions{tc.weight_decay, tc.adam_beta1, tc.adam_beta2, tc.adam_eps});
  loader_ = std::make_unique<BatchLoader>(data_.train, tc.batch_size, tc.seed);
  fs::create_directories(run_dir_ / "samples");
  fs::create_directories(run_dir_ / "checkpoints");
  write_file_atomic(run_dir_ / "config.json", to_json(config_).dump(2) + "\n");
}

void AutoencoderTrainer::resume() {
  const auto dir = run_dir_ / "checkpoints/latest";
  auto c = read_checkpoint(dir, /*with_optimizer=*/true);
  load_state_dict(*model_, c.model, (dir / "model.safetensors").string());
  load_state_dict(*ema_, c.ema, (dir / "ema.safetensors").string());
  optimizer_->load_state(c.optimizer);
  step_ = c.state.at("step").get<int64_t>();
  elapsed_seconds_ = c.state.value("seconds", 0.0);
  restore_generator_state(generator_, c.state.at("generator").get<std::string>());
  loader_->restore(
      {c.state.at("loader_epoch").get<int64_t>(), c.state.at("loader_position").get<int64_t>()});
  latest_step_ = step_;
}

torch::Tensor AutoencoderTrainer::loss(const torch::Tensor& x) {
  const auto& tc = config_.training;
  auto reconstruction_error = [&](const torch::Tensor& r) {  // per pixel
    return tc.reconstruction_loss == ReconstructionLoss::l1 ? (x - r).abs().mean()
                                                            : (x - r).pow(2).mean();
  };
  const auto enc = model_->encode(x);
  if (config_.model.kind == AutoencoderKind::vq) {
    // VQGAN (Esser et al. 2021) eq. (4) without the adversarial part; VQ-VAE eq. (3).
    const auto q = model_->quantize(enc.mean);
    return reconstruction_error(model_->decode_quantized(q.quantized)) + q.codebook_loss +
           tc.vq_beta * q.commitment_loss;
  }
  // DiagonalGaussianDistribution.sample(): z = μ + σ ε, ε drawn from the run's generator.
  const auto std = torch::exp(0.5 * enc.logvar);
  const auto eps = torch::randn(enc.mean.sizes(), generator_).to(enc.mean.device());
  const auto z = enc.mean + std * eps;
  // KL(N(μ, σ²) ‖ N(0, 1)) summed over the latent, averaged over images (LDM's kl_loss); the
  // reconstruction is per pixel here, so the KL is divided by the pixels of one image.
  const auto kl =
      0.5 * (enc.mean.pow(2) + enc.logvar.exp() - 1.0 - enc.logvar).sum({1, 2, 3}).mean();
  const double pixels = double(x.size(1) * x.size(2) * x.size(3));
  return reconstruction_error(model_->decode(z)) + tc.kl_weight * kl / pixels;
}

void AutoencoderTrainer::save_checkpoint() {
  const auto dir = run_dir_ / "checkpoints/latest";
  Checkpoint c;
  c.model = state_dict(*model_);
  c.ema = state_dict(*ema_);
  c.optimizer = optimizer_->state();
  const auto loader_state = loader_->state();
  c.state = {{"step", step_},
             {"seconds", elapsed_seconds_},
             {"generator", generator_state_hex(generator_)},
             {"loader_epoch", loader_state.epoch},
             {"loader_position", loader_state.position}};
  for (const auto* part : {&c.model, &c.ema, &c.optimizer})
    if (auto name = first_non_finite(*part))
      throw std::runtime_error(
          fmt::format("{}: not written: {} holds an inf or NaN (any previous checkpoint is kept)",
                      dir.string(), *name));
  write_checkpoint(dir, c);
  latest_step_ = step_;
}

fs::path AutoencoderTrainer::save_reconstruction_grid() {
  torch::NoGradGuard no_grad;
  const auto& source = held_out();
  const int64_t n = std::min(config_.training.sample_images, source.size(0));
  const auto originals = source.slice(0, 0, n);  // uint8 [n, C, S, S], the same every time
  const Codec ema(ema_, 1.0);
  const auto rec = ema.to_uint8(ema.encode(originals));  // decode(mean), as 8-bit pixels
  GridOptions grid;
  grid.columns = n;
  const auto path = run_dir_ / "samples" / fmt::format("step_{:06d}.png", step_);
  write_png(path, make_grid(torch::cat({originals, rec}), grid),
            png_parameters({{"command", "train-autoencoder"},
                            {"model", run_dir_.string()},
                            {"step", step_},
                            {"figure", "held-out images (top) and their reconstructions"}}));
  return path;
}

void AutoencoderTrainer::run(const TrainEvents& events, const std::atomic<bool>* stop) {
  using clock = std::chrono::steady_clock;
  const auto& tc = config_.training;
  TrainingLog log(run_dir_ / "log.csv", step_);
  const int64_t first_step = step_;
  double window_seconds = 0, window_loss = 0;
  int64_t window_steps = 0, window_finite = 0;
  double lr = 0, grad_norm = 0;
  auto report = [&]() {
    TrainProgress p;
    p.step = step_;
    p.total_steps = tc.steps;
    p.loss = window_finite ? window_loss / double(window_finite)
                           : std::numeric_limits<double>::quiet_NaN();
    p.lr = lr;
    p.images_per_second =
        window_seconds > 0 ? double(window_steps * tc.batch_size) / window_seconds : 0;
    p.elapsed_seconds = elapsed_seconds_;
    p.eta_seconds =
        window_steps ? window_seconds / double(window_steps) * double(tc.steps - step_) : 0;
    log.append(step_, p.loss, lr, grad_norm, p.images_per_second, elapsed_seconds_);
    if (events.on_progress) events.on_progress(p);
    window_seconds = window_loss = 0;
    window_steps = window_finite = 0;
  };
  BadSteps bad_steps(tc.max_bad_steps);
  const Codec pixels;  // [-1, 1], the images diffusers' VAEs see
  while (step_ < tc.steps && !(stop && stop->load())) {
    const auto t0 = clock::now();
    const auto x = pixels.encode(loader_->next()).to(device_);  // [B, C, S, S]
    auto l = loss(x);
    optimizer_->zero_grad();
    l.backward();
    const double loss_value = l.item<double>();
    lr = warmup_lr(tc.lr, step_, tc.warmup_steps);
    std::string bad;  // issue 13's rule, as the diffusion trainer: nothing is updated
    grad_norm = std::numeric_limits<double>::quiet_NaN();
    if (!std::isfinite(loss_value)) {
      bad = "loss";
    } else {
      grad_norm = global_grad_norm(*model_, tc.grad_clip);
      if (!std::isfinite(grad_norm))
        bad = first_non_finite(named_gradients(*model_)).value_or("gradient norm");
      if (bad.empty()) {
        optimizer_->step(lr);
        ema_update(*ema_, *model_, ema_decay_at(tc.ema_decay, step_, tc.ema_warmup));
      }
    }
    ++step_;
    ++window_steps;
    const int64_t in_a_row = bad_steps.record(step_, bad);
    if (bad.empty()) {
      window_loss += loss_value;
      ++window_finite;
    } else {
      if (events.on_bad_step) events.on_bad_step(step_, bad, in_a_row);
      if (bad_steps.exhausted()) {
        report();
        throw bad_steps.diverged(step_, latest_step_, "Lower training.lr (--lr)");
      }
    }
    const double seconds = std::chrono::duration<double>(clock::now() - t0).count();
    elapsed_seconds_ += seconds;
    window_seconds += seconds;
    if (step_ % tc.log_every == 0) report();
    if (tc.sample_every > 0 && step_ % tc.sample_every == 0) {
      auto path = save_reconstruction_grid();
      if (events.on_file) events.on_file("samples", path);
    }
    if (tc.checkpoint_every > 0 && step_ % tc.checkpoint_every == 0) {
      save_checkpoint();
      if (events.on_file) events.on_file("checkpoint", run_dir_ / "checkpoints/latest");
    }
  }
  if (window_steps) report();
  if (step_ != first_step || latest_step_ < 0) {
    save_checkpoint();
    if (events.on_file) events.on_file("checkpoint", run_dir_ / "checkpoints/latest");
  }
  if (step_ == tc.steps && (tc.sample_every == 0 || step_ % tc.sample_every != 0)) {
    auto path = save_reconstruction_grid();
    if (events.on_file) events.on_file("samples", path);
  }
}

const torch::Tensor& AutoencoderTrainer::held_out() const {
  return data_.validation.size(0) > 0 ? data_.validation : data_.train;
}

AutoencoderResult AutoencoderTrainer::finish() {
  torch::NoGradGuard no_grad;
  const auto& tc = config_.training;
  AutoencoderResult r;
  r.step = step_;
  const Codec ema(ema_, 1.0);  // the EMA autoencoder's latents, unscaled
  // PSNR on held-out images.
  const auto& source = held_out();
  const int64_t n = std::min(tc.eval_images, source.size(0));
  const auto images = source.slice(0, 0, n);             // uint8 [n, C, S, S]
  const auto pixels = ema.to_uint8(ema.encode(images));  // decode(mean), 8-bit
  const double squared = ((pixels.to(torch::kFloat64) - images.to(torch::kFloat64)) / 255.0)
                             .pow(2)
                             .sum()
                             .item<double>();
  r.eval_images = n;
  r.mse = squared / double(images.numel());
  r.psnr_db = r.mse > 0 ? 10.0 * std::log10(1.0 / r.mse) : std::numeric_limits<double>::infinity();
  // LDM's scale_by_std over the first scale_images training images.
  const int64_t m = std::min(tc.scale_images, data_.train.size(0));
  r.latent_std = ema.encode(data_.train.slice(0, 0, m)).to(torch::kFloat64).std().item<double>();
  if (!(r.latent_std > 0) || !std::isfinite(r.latent_std))
    throw std::runtime_error(fmt::format(
        "the latents of the training images have standard deviation {}: the autoencoder "
        "collapsed; no scaling_factor can be set",
        r.latent_std));
  r.scaling_factor = 1.0 / r.latent_std;
  ema_->set_scaling_factor(r.scaling_factor);
  model_->set_scaling_factor(r.scaling_factor);
  save_autoencoder(ema_, run_dir_ / "autoencoder");
  const nlohmann::json metrics{{"step", r.step},
                               {"psnr_db", r.psnr_db},
                               {"mse", r.mse},
                               {"eval_images", r.eval_images},
                               {"latent_std", r.latent_std},
                               {"scaling_factor", r.scaling_factor}};
  write_file_atomic(run_dir_ / "metrics.json", metrics.dump(2) + "\n");
  return r;
}

}  // namespace ddpm

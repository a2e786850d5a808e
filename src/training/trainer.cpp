#include "training/trainer.h"

#include <chrono>

#include "data/transforms.h"
#include "io/atomic_file.h"
#include "io/grid.h"
#include "io/image.h"
#include "models/state_dict.h"
#include "pipeline/checkpoint.h"
#include "pipeline/generate.h"
#include "pipeline/model_loading.h"
#include "pipeline/threads.h"
#include "training/loss.h"

namespace ddpm {

namespace fs = std::filesystem;

namespace {

std::string to_hex(const torch::Tensor& bytes) {
  static const char* digits = "0123456789abcdef";
  auto b = bytes.contiguous();
  const auto* p = b.data_ptr<uint8_t>();
  std::string s;
  s.reserve(2 * b.numel());
  for (int64_t i = 0; i < b.numel(); ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

torch::Tensor from_hex(const std::string& s) {
  if (s.size() % 2) throw std::runtime_error("state.json: malformed RNG state");
  auto out = torch::empty({int64_t(s.size() / 2)}, torch::kUInt8);
  auto* p = out.data_ptr<uint8_t>();
  for (size_t i = 0; i < s.size(); i += 2) p[i / 2] = uint8_t(std::stoi(s.substr(i, 2), nullptr, 16));
  return out;
}

double global_grad_norm(UNet& model, double clip) {
  auto params = model->parameters();
  if (clip > 0) return torch::nn::utils::clip_grad_norm_(params, clip);
  std::vector<torch::Tensor> norms;
  for (auto& p : params)
    if (p.grad().defined()) norms.push_back(p.grad().norm());
  return norms.empty() ? 0.0 : torch::stack(norms).norm().item<double>();
}

}  // namespace

Trainer::Trainer(RunConfig config, Dataset data, fs::path run_dir)
    : config_(std::move(config)),
      data_(std::move(data)),
      run_dir_(std::move(run_dir)),
      device_(parse_device(config_.training.device)),
      schedule_(make_noise_schedule(config_.schedule)),
      generator_(at::detail::createCPUGenerator(config_.training.seed + 1)) {
  const auto& tc = config_.training;
  const auto& mc = config_.model;
  if (data_.image_size != mc.sample_size || data_.channels != mc.in_channels)
    throw std::invalid_argument(fmt::format(
        "the model takes {}x{}x{} images but the data is {}x{}x{}", mc.in_channels, mc.sample_size,
        mc.sample_size, data_.channels, data_.image_size, data_.image_size));
  configure_cpu_threads(tc.threads);

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

  total_steps_ = tc.steps > 0 ? tc.steps : tc.epochs * loader_->batches_per_epoch();
  if (total_steps_ <= 0)
    throw std::invalid_argument("set training.steps (--steps) or training.epochs (--epochs)");

  fs::create_directories(run_dir_ / "samples");
  fs::create_directories(run_dir_ / "checkpoints");
  write_file_atomic(run_dir_ / "config.json", to_json(config_).dump(2) + "\n");
}

void Trainer::resume() {
  auto c = read_checkpoint(run_dir_ / "checkpoints/latest", /*with_optimizer=*/true);
  load_state_dict(*model_, c.model, (run_dir_ / "checkpoints/latest/model.safetensors").string());
  load_state_dict(*ema_->model(), c.ema, (run_dir_ / "checkpoints/latest/ema.safetensors").string());
  optimizer_->load_state(c.optimizer);
  step_ = c.state.at("step").get<int64_t>();
  elapsed_seconds_ = c.state.value("seconds", 0.0);
  generator_.set_state(from_hex(c.state.at("generator").get<std::string>()));
  at::Generator global = at::detail::getDefaultCPUGenerator();
  global.set_state(from_hex(c.state.at("global_generator").get<std::string>()));
  loader_->restore({c.state.at("loader_epoch").get<int64_t>(),
                    c.state.at("loader_position").get<int64_t>()});
}

void Trainer::save_checkpoint() {
  Checkpoint c;
  c.model = state_dict(*model_);
  c.ema = state_dict(*ema_->model());
  c.optimizer = optimizer_->state();
  const auto loader_state = loader_->state();
  c.state = {{"step", step_},
             {"seconds", elapsed_seconds_},
             {"generator", to_hex(generator_.get_state())},
             {"global_generator", to_hex(at::detail::getDefaultCPUGenerator().get_state())},
             {"loader_epoch", loader_state.epoch},
             {"loader_position", loader_state.position}};
  write_checkpoint(run_dir_ / "checkpoints/latest", c);
}

fs::path Trainer::save_sample_grid() {
  const auto& tc = config_.training;
  SamplingConfig sampling = config_.sampling;
  sampling.sampler = SamplerKind::ddim;
  sampling.steps = std::min(tc.sample_steps, schedule_.num_train_timesteps);
  sampling.eta = 0.0;
  GenerateRequest request;
  request.count = tc.sample_images;
  request.batch_size = std::min<int64_t>(tc.sample_images, 64);
  request.seed = tc.seed;  // the same x_T at every step, so grids show progress
  auto samples = generate(ema_->model(), schedule_, config_.prediction_type, sampling, request);
  auto images = denormalize_to_uint8(samples, data_.normalization);
  GridOptions grid;
  grid.columns = int64_t(std::ceil(std::sqrt(double(tc.sample_images))));
  auto path = run_dir_ / "samples" / fmt::format("step_{:06d}.png", step_);
  write_png(path, make_grid(images, grid));
  return path;
}

void Trainer::run(const TrainEvents& events, const std::atomic<bool>* stop) {
  const auto& tc = config_.training;
  TrainingLog log(run_dir_ / "log.csv", step_);
  using clock = std::chrono::steady_clock;
  double window_seconds = 0;  // optimizer steps only: grids and checkpoints are not training
  double window_loss = 0;
  int64_t window_steps = 0;
  const int64_t first_step = step_;
  auto report = [&](double lr, double grad_norm) {
    TrainProgress p;
    p.step = step_;
    p.total_steps = total_steps_;
    p.loss = window_steps ? window_loss / double(window_steps) : 0.0;
    p.lr = lr;
    p.images_per_second = window_seconds > 0 ? double(window_steps * tc.batch_size) / window_seconds : 0;
    p.elapsed_seconds = elapsed_seconds_;
    p.eta_seconds = window_steps ? window_seconds / double(window_steps) * double(total_steps_ - step_) : 0;
    log.append(step_, p.loss, lr, grad_norm, p.images_per_second, elapsed_seconds_);
    if (events.on_progress) events.on_progress(p);
    window_seconds = 0;
    window_loss = 0;
    window_steps = 0;
  };

  double lr = 0, grad_norm = 0;
  while (step_ < total_steps_ && !(stop && stop->load())) {
    const auto t0 = clock::now();
    auto batch = loader_->next();                                            // uint8 [B, C, H, W]
    if (config_.data.hflip) batch = random_hflip(batch, generator_);
    auto x0 = normalize(batch, data_.normalization).to(device_);              // [B, C, H, W]
    auto loss = diffusion_loss(model_, schedule_, config_.prediction_type, tc.loss, x0, generator_);
    optimizer_->zero_grad();
    loss.backward();
    grad_norm = global_grad_norm(model_, tc.grad_clip);
    lr = warmup_lr(tc.lr, step_, tc.warmup_steps);
    optimizer_->step(lr);
    ema_->update(model_, ema_decay_at(tc.ema_decay, step_, tc.ema_warmup));
    ++step_;
    window_loss += loss.item<double>();
    ++window_steps;
    const double step_seconds = std::chrono::duration<double>(clock::now() - t0).count();
    elapsed_seconds_ += step_seconds;
    window_seconds += step_seconds;

    if (step_ % tc.log_every == 0) report(lr, grad_norm);
    if (tc.sample_every > 0 && step_ % tc.sample_every == 0) {
      auto path = save_sample_grid();
      if (events.on_file) events.on_file("samples", path);
    }
    if (tc.checkpoint_every > 0 && step_ % tc.checkpoint_every == 0) {
      save_checkpoint();
      if (events.on_file) events.on_file("checkpoint", run_dir_ / "checkpoints/latest");
    }
  }
  if (window_steps) report(lr, grad_norm);
  if (step_ != first_step || !checkpoint_exists(run_dir_ / "checkpoints/latest")) {
    save_checkpoint();
    if (events.on_file) events.on_file("checkpoint", run_dir_ / "checkpoints/latest");
  }
  if (step_ == total_steps_ && (tc.sample_every == 0 || step_ % tc.sample_every != 0)) {
    auto path = save_sample_grid();
    if (events.on_file) events.on_file("samples", path);
  }
}

}  // namespace ddpm

// ddpm_bench: training and DDIM sampling throughput of our UNet presets, measured against the
// same network in PyTorch from Python (bench/peer_pytorch.py) on the same machine in the same run.
//
// For each preset the bench builds the UNet with a fixed seed and writes its config, weights and
// one forward pass (input, conditioning, output) into a temporary folder; it times ours, then
// runs the peer on that folder with the same threads, batch sizes and step counts, and prints:
//
//   train   one optimizer step: t ~ U{0..T−1}, ε ~ N(0, I), x_t by q(x_t|x_0) (DDPM eq. 4),
//           forward, MSE on ε (training/loss.h), backward, AdamW (training/adamw.h; the peer:
//           torch.optim.AdamW, same lr and weight decay). images/s = batch / median step time.
//           Data loading, gradient clipping and EMA are left out (the trainer adds them).
//   load    load_model on the preset exported as a diffusers folder (config.json and
//           diffusion_pytorch_model.safetensors): read, build the UNet, copy the weights in.
//           Target (issue #3): ddpm-cifar10 (35.7M parameters) in under 1 s.
//   sample  one DDIM run (η = 0, x̂_0 clipped, `--sample-steps` network evaluations, leading
//           spacing) on one batch without autograd (samplers/ddim.h + models/denoiser.h; the peer:
//           the same loop under torch.no_grad). images/s = batch / median time of the whole run.
//
// Each figure is the median over `--repeats` timed runs after `--warmup` untimed ones. The
// forward check (max |Δ| between the peer's output and ours on the same input and weights, eval
// mode) shows that both time the same architecture; above 1e-3 the bench fails.
//
//   build-bench/ddpm_bench                      # both presets, all cores, peer /usr/bin/python3
//   build-bench/ddpm_bench --presets fashion-mnist --threads 1 --no-peer --json out.json
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/noise_schedule.h"
#include "core/timesteps.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "models/conv3x3.h"
#include "models/cuda_graph_denoiser.h"
#include "models/denoiser.h"
#include "models/precision.h"
#include "models/presets.h"
#include "models/state_dict.h"
#include "models/unet.h"
#include "op_profile.h"
#include "pipeline/diffusers_export.h"
#include "runs/cpu_allocator.h"
#include "runs/model_loading.h"
#include "runs/run_config.h"
#include "runs/threads.h"
#include "samplers/sampler_registry.h"
#include "training/adamw.h"
#include "training/loss_scaler.h"
#include "training/train_step.h"

#ifndef DDPM_BENCH_DIR
#error "DDPM_BENCH_DIR must name the bench/ folder (set by CMakeLists.txt)"
#endif

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The training hyper-parameters both sides use: DDPM's learning rate and the Keras example's
// weight decay (non-zero, so that both optimizers do the decay multiply).
constexpr double kLearningRate = 2e-4;
constexpr double kWeightDecay = 1e-4;
// Largest |ours − peer| accepted for one forward pass in float32.
constexpr double kMaxForwardDiff = 1e-3;
constexpr int64_t kCheckBatch = 4;

struct Flags {
  std::vector<std::string> presets = {"fashion-mnist", "ddpm-cifar10"};
  int64_t threads = 0;
  int64_t train_batch = 0;   // 0: the preset's default (kDefaultBatch)
  int64_t sample_batch = 0;  // 0: the preset's default
  int64_t sample_steps = 10;
  int64_t warmup = 1;
  int64_t repeats = 5;
  uint64_t seed = 0;
  std::string peer = "/usr/bin/python3";
  bool no_peer = false;
  bool profile = false;
  int64_t profile_top = 12;
  std::string json_path;
  std::string device = "cpu";      // both sides
  std::string precision = "fp32";  // autocast, both sides
  bool cuda_graphs = false;        // ours: sampling from a CUDA graph
  bool peer_compile = false;       // the peer: torch.compile'd network
  bool default_allocator = false;  // both sides: glibc's default instead of keeping freed memory
  std::string conv = "auto";       // ours: the 3x3 convolutions (models/conv3x3.h), as the CLI
};

// Batches that keep a full run at a few minutes on 2 cores: ddpm-cifar10 (35.7M parameters)
// costs about 20× fashion-mnist (1.7M) per image.
const std::map<std::string, std::pair<int64_t, int64_t>> kDefaultBatch = {
    {"fashion-mnist", {32, 32}}, {"ddpm-cifar10", {8, 8}}};

struct Timing {
  int64_t batch = 0;
  double peak_rss_mib = 0;      // resident-set high-water mark of the process during the timing
  std::vector<double> seconds;  // one entry per timed repeat
  double median_s = 0;
  double images_per_s = 0;
};

json to_json(const Timing& t) {
  return {{"batch", t.batch},
          {"peak_rss_mib", t.peak_rss_mib},
          {"seconds", t.seconds},
          {"median_s", t.median_s},
          {"images_per_s", t.images_per_s}};
}

Timing timing_from_json(const json& j) {
  Timing t;
  t.batch = j.at("batch").get<int64_t>();
  t.seconds = j.at("seconds").get<std::vector<double>>();
  t.median_s = j.at("median_s").get<double>();
  t.images_per_s = j.at("images_per_s").get<double>();
  t.peak_rss_mib = j.value("peak_rss_mib", 0.0);
  return t;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Linux: returns freed heap memory to the system (glibc malloc_trim, so that what an earlier
/// task freed does not count), then resets the resident-set high-water mark to the current RSS
/// (proc(5), /proc/pid/clear_refs, value 5): VmHWM afterwards is the peak of what follows.
void reset_peak_rss() {
  ::malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";
}

/// VmHWM of /proc/self/status in MiB (0 where unavailable).
double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  return 0;
}

/// `work` run `warmup` times untimed, then `repeats` times timed (wall clock).
Timing time_repeats(int64_t batch, int64_t warmup, int64_t repeats,
                    const std::function<void()>& work) {
  using clock = std::chrono::steady_clock;
  reset_peak_rss();
  for (int64_t i = 0; i < warmup; ++i) work();
  Timing t;
  t.batch = batch;
  for (int64_t i = 0; i < repeats; ++i) {
    const auto t0 = clock::now();
    work();
    t.seconds.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
  t.median_s = median(t.seconds);
  t.images_per_s = double(batch) / t.median_s;
  t.peak_rss_mib = peak_rss_mib();
  return t;
}

struct PresetResult {
  std::string preset;
  int64_t parameters = 0;
  Timing ours_train, ours_sample;
  Timing ours_load;  // batch 1: images_per_s is loads per second
  std::optional<Timing> peer_train, peer_sample;
  std::optional<double> max_abs_diff;  // peer forward vs ours on the same input
  double max_abs_output = 0;
  std::string peer_torch;
  std::optional<ddpm::bench::OpProfile> train_profile, sample_profile;
  /// The peer's self time per category (ms per run) and its profiled wall time, with --profile.
  std::optional<json> peer_train_profile, peer_sample_profile;
};

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

/// Runs `command` through the shell; returns its stdout (stderr passes through). Throws when it
/// cannot start or exits non-zero.
std::string run_capture(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run: " + command);
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = ::pclose(pipe);
  if (status != 0)
    throw std::runtime_error(fmt::format("the PyTorch peer failed (exit status {}): {}",
                                         WIFEXITED(status) ? WEXITSTATUS(status) : status,
                                         command));
  return out;
}

/// A fresh folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "ddpm_bench_XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("cannot create a temporary folder");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

PresetResult bench_preset(const std::string& preset, const Flags& f, int64_t threads) {
  PresetResult r;
  r.preset = preset;
  const auto defaults =
      kDefaultBatch.count(preset) ? kDefaultBatch.at(preset) : std::pair<int64_t, int64_t>{16, 16};
  const int64_t train_batch = f.train_batch > 0 ? f.train_batch : defaults.first;
  const int64_t sample_batch = f.sample_batch > 0 ? f.sample_batch : defaults.second;

  const ddpm::UNetConfig config = ddpm::model_preset(preset);
  TORCH_CHECK(config.layout == ddpm::UNetLayout::diffusers,
              "the PyTorch peer implements the diffusers layout only; preset '", preset, "' is ",
              ddpm::to_string(config.layout));
  const torch::Device device = ddpm::parse_device(f.device);
  const auto precision = ddpm::parse_enum<ddpm::Precision>(f.precision);
  ddpm::check_precision(precision, device);
  // GPU work is asynchronous: each timed run ends when the device has finished it.
  auto finish = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  torch::manual_seed(int64_t(f.seed));
  ddpm::UNet model(config);
  r.parameters = ddpm::count_parameters(*model);
  const auto schedule = ddpm::make_noise_schedule(ddpm::ScheduleConfig{});
  torch::Generator gen = at::detail::createCPUGenerator(f.seed + 1);
  const std::vector<int64_t> image = {config.in_channels, config.sample_size, config.sample_size};
  auto batch_shape = [&](int64_t b) {
    return std::vector<int64_t>{b, image[0], image[1], image[2]};
  };

  // What the peer needs: the config, the initial weights, and one forward pass in eval mode.
  TempDir dir;
  ddpm::write_file_atomic(dir.path() / "config.json", ddpm::to_json(config).dump(2));
  ddpm::write_safetensors(dir.path() / "model.safetensors", ddpm::state_dict(*model));
  {
    model->eval();
    torch::NoGradGuard no_grad;
    auto x = torch::randn(batch_shape(kCheckBatch), gen);      // [4, C, H, W]
    auto t = torch::tensor({0, 250, 500, 999}, torch::kLong);  // [4]
    auto c = ddpm::conditioning_for(config, schedule, t);      // [4] float
    auto out = model->forward(x, c);                           // [4, C, H, W]
    r.max_abs_output = out.abs().max().item<double>();
    ddpm::write_safetensors(dir.path() / "check.safetensors", {{"x", x}, {"c", c}, {"out", out}});
  }

  // Ours, load: the folder a user downloads, read back through load_model. Timed first, before
  // training and sampling have grown the heap, so the weights land in fresh pages as they do in
  // a new process.
  {
    ddpm::RunConfig run;
    run.model = config;
    ddpm::export_diffusers(run, ddpm::state_dict(*model), dir.path() / "diffusers");
    r.ours_load = time_repeats(1, f.warmup, f.repeats, [&] {
      ddpm::load_model(dir.path() / "diffusers", ddpm::WeightsKind::ema, device);
      finish();
    });
  }

  // Ours, train: the project's loss and optimizer on one fixed batch in [−1, 1].
  model->to(device);
  {
    model->train();
    std::vector<std::pair<std::string, torch::Tensor>> params;
    for (auto& p : model->named_parameters(true)) params.emplace_back(p.key(), p.value());
    ddpm::AdamWOptions adam;
    adam.weight_decay = kWeightDecay;
    ddpm::AdamW optimizer(params, adam);
    auto x0 = (torch::rand(batch_shape(train_batch), gen) * 2 - 1).to(device);  // [B, C, H, W]
    ddpm::LossScaler scaler(precision == ddpm::Precision::fp16);
    ddpm::TrainStep step(model, optimizer, scaler, schedule,
                         {ddpm::PredictionType::epsilon, ddpm::LossType::mse, precision});
    auto train_step = [&] {
      const auto draws = ddpm::draw_training_noise(schedule, x0.sizes(), gen);
      step.run({x0, draws.t, draws.noise, {}}, kLearningRate);
      finish();
    };
    r.ours_train = time_repeats(train_batch, f.warmup, f.repeats, train_step);
    if (f.profile) r.train_profile = ddpm::bench::profile_ops(train_step, 3);
  }

  // Ours, sample: DDIM (η = 0) through the samplers' DenoiseFn, no autograd.
  {
    model->eval();
    auto denoise = f.cuda_graphs ? ddpm::make_cuda_graph_denoise_fn(model, schedule, precision)
                                 : ddpm::make_denoise_fn(model, schedule, precision);
    auto sampler = ddpm::default_sampler_config(ddpm::SamplerKind::ddim);  // leading, η = 0
    sampler.steps = f.sample_steps;
    auto x_T = torch::randn(batch_shape(sample_batch), gen).to(device);  // [B, C, H, W]
    auto sample_run = [&] {
      torch::NoGradGuard no_grad;
      ddpm::run_sampler(sampler, {denoise, schedule, ddpm::PredictionType::epsilon, {}, {}}, x_T);
      finish();
    };
    r.ours_sample = time_repeats(sample_batch, f.warmup, f.repeats, sample_run);
    if (f.profile) r.sample_profile = ddpm::bench::profile_ops(sample_run, 1);
  }

  if (f.no_peer) return r;
  const std::string script = (fs::path(DDPM_BENCH_DIR) / "peer_pytorch.py").string();
  const std::string command = fmt::format(
      "{}{} {} --config {} --weights {} --check {} --threads {} --train-batch {} --sample-batch {} "
      "--sample-steps {} --warmup {} --repeats {} --lr {} --weight-decay {} --timesteps {} "
      "--seed {} --device {} --precision {}{}{}",
      f.default_allocator ? "" : fmt::format("GLIBC_TUNABLES={} ", ddpm::kKeepFreedMemoryTunables),
      shell_quote(f.peer), shell_quote(script), shell_quote((dir.path() / "config.json").string()),
      shell_quote((dir.path() / "model.safetensors").string()),
      shell_quote((dir.path() / "check.safetensors").string()), threads, train_batch, sample_batch,
      f.sample_steps, f.warmup, f.repeats, kLearningRate, kWeightDecay,
      schedule.num_train_timesteps, f.seed, shell_quote(device.str()), f.precision,
      f.profile ? " --profile" : "", f.peer_compile ? " --compile" : "");
  const std::string out = run_capture(command);
  json peer;
  try {
    peer = json::parse(out);
  } catch (const json::exception& e) {
    throw std::runtime_error("the PyTorch peer printed no JSON object: " + out);
  }
  TORCH_CHECK(peer.at("threads").get<int64_t>() == threads, "the peer ran with ",
              peer.at("threads").get<int64_t>(), " threads, ours with ", threads);
  TORCH_CHECK(peer.at("parameters").get<int64_t>() == r.parameters, "the peer's network has ",
              peer.at("parameters").get<int64_t>(), " parameters, ours ", r.parameters);
  r.peer_torch = peer.at("torch_version").get<std::string>();
  r.max_abs_diff = peer.at("check").at("max_abs_diff").get<double>();
  r.peer_train = timing_from_json(peer.at("train"));
  r.peer_sample = timing_from_json(peer.at("sample"));
  if (peer.contains("profile")) {
    r.peer_train_profile = peer["profile"].at("train");
    r.peer_sample_profile = peer["profile"].at("sample");
  }
  return r;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

std::string ratio_text(const Timing& ours, const std::optional<Timing>& peer) {
  return peer ? fmt::format("{:.2f}", ours.images_per_s / peer->images_per_s) : "-";
}

std::string peer_text(const std::optional<Timing>& peer) {
  return peer ? fmt::format("{:.1f}", peer->images_per_s) : "-";
}

void print_profile(const std::string& title, const ddpm::bench::OpProfile& p, double peak,
                   int64_t top, const std::optional<json>& peer) {
  fmt::print("\n{}: {:.1f} ms per run under the profiler{}\n", title, p.total_ms,
             peer ? fmt::format(" (peer {:.1f} ms)", peer->at("total_ms").get<double>()) : "");
  fmt::print("  {:<30} {:>9} {:>6} {:>7} {:>9} {:>8} {:>9} {:>6}\n", "category", "self ms", "share",
             "calls", "GFLOP", "GFLOP/s", "peer ms", "share");
  auto peer_ms = [&](const std::string& category) {
    if (!peer || !peer->at("categories").contains(category)) return 0.0;
    return peer->at("categories").at(category).get<double>();
  };
  std::vector<std::string> shown;
  for (const auto& c : p.categories) {
    shown.push_back(c.name);
    fmt::print(
        "  {:<30} {:>9.1f} {:>5.1f}% {:>7} {:>9.2f} {:>8} {:>9} {:>6}\n", c.name, c.self_ms,
        100 * c.self_ms / p.total_ms, c.calls, c.gflop,
        c.gflop > 0 ? fmt::format("{:.1f}", c.gflop / (c.self_ms / 1e3)) : "-",
        peer ? fmt::format("{:.1f}", peer_ms(c.name)) : "-",
        peer ? fmt::format("{:.1f}%", 100 * peer_ms(c.name) / peer->at("total_ms").get<double>())
             : "-");
  }
  if (peer)  // categories only the peer has (e.g. SiLU, which ours fuses into normalization)
    for (const auto& [name, ms] : peer->at("categories").items())
      if (std::find(shown.begin(), shown.end(), name) == shown.end())
        fmt::print("  {:<30} {:>9} {:>6} {:>7} {:>9} {:>8} {:>9.1f} {:>5.1f}%\n", name, "-", "-",
                   "-", "-", "-", ms.get<double>(),
                   100 * ms.get<double>() / peer->at("total_ms").get<double>());
  double gflop = 0;
  for (const auto& c : p.categories) gflop += c.gflop;
  fmt::print("  total {:.2f} GFLOP in {:.1f} ms: {:.1f} GFLOP/s = {:.0f}% of the sgemm peak\n",
             gflop, p.total_ms, gflop / (p.total_ms / 1e3),
             100 * gflop / (p.total_ms / 1e3) / peak);
  fmt::print("  {:<34} {:>9} {:>6} {:>7} {:>8}\n", "top operators", "self ms", "share", "calls",
             "GFLOP/s");
  for (size_t i = 0; i < p.ops.size() && int64_t(i) < top; ++i) {
    const auto& o = p.ops[i];
    fmt::print("  {:<34} {:>9.1f} {:>5.1f}% {:>7} {:>8}\n", o.name, o.self_ms,
               100 * o.self_ms / p.total_ms, o.calls,
               o.gflop > 0 ? fmt::format("{:.1f}", o.gflop / (o.self_ms / 1e3)) : "-");
  }
}

void print_profiles(const std::vector<PresetResult>& results, int64_t top) {
  const double peak = ddpm::bench::measure_sgemm_gflops();
  fmt::print(
      "\nsgemm peak (1024x1024x1024, torch::mm, these threads): {:.1f} GFLOP/s; the rate of "
      "LibTorch's BLAS, which our own GEMM kernels (AVX-512 where the CPU has it) can pass\n",
      peak);
  fmt::print(
      "convolution GFLOP/s are effective: direct-convolution FLOPs / time (Winograd does "
      "the same work with fewer multiplications, so it can pass the sgemm line)\n");
  for (const auto& r : results) {
    if (r.train_profile)
      print_profile(fmt::format("{} train step, batch {}", r.preset, r.ours_train.batch),
                    *r.train_profile, peak, top, r.peer_train_profile);
    if (r.sample_profile)
      print_profile(fmt::format("{} DDIM run, batch {}", r.preset, r.ours_sample.batch),
                    *r.sample_profile, peak, top, r.peer_sample_profile);
  }
}

/// The spellings models/precision.h parses (its enum table), for --precision.
std::vector<std::string> precision_names() {
  std::vector<std::string> names;
  for (const auto& [value, name] : ddpm::enum_table<ddpm::Precision>().entries)
    names.emplace_back(name);
  return names;
}

int run(const Flags& f) {
  const int64_t threads = ddpm::configure_cpu_threads(f.threads);
  fmt::print("ddpm_bench: LibTorch {}, {} threads, {}; load average {} at start\n", TORCH_VERSION,
             threads, cpu_model(), load_average());
  fmt::print("DDIM {} steps; median of {} repeats after {} warm-up; peer: {}\n", f.sample_steps,
             f.repeats, f.warmup, f.no_peer ? "none" : f.peer);
  fmt::print("device {}, precision {}{}{}; ours: 3x3 convolutions {}\n", f.device, f.precision,
             f.cuda_graphs ? ", ours sampling from CUDA graphs" : "",
             f.peer_compile ? ", peer torch.compile'd" : "", f.conv);
  ddpm::set_conv3x3_policy(ddpm::parse_enum<ddpm::Conv3x3Policy>(f.conv));
  // As ddpm does (runs/cpu_allocator.h), and the same for the peer, through GLIBC_TUNABLES.
  if (!f.default_allocator) ddpm::keep_freed_memory_for_reuse();
  fmt::print("allocator, both sides: {}\n",
             f.default_allocator ? "glibc's defaults"
                                 : "freed blocks kept for reuse (GLIBC_TUNABLES=" +
                                       std::string(ddpm::kKeepFreedMemoryTunables) + ")");

  std::vector<PresetResult> results;
  for (const auto& preset : f.presets) {
    fmt::print("{}: measuring ours{}...\n", preset, f.no_peer ? "" : ", then the PyTorch peer");
    std::fflush(stdout);
    results.push_back(bench_preset(preset, f, threads));
  }

  fmt::print("\n{:<14} {:<6} {:>5} {:>11} {:>11} {:>10} {:>10} {:>10}\n", "preset", "task", "batch",
             "ours img/s", "peer img/s", "ours/peer", "ours MiB", "peer MiB");
  auto row = [](const std::string& preset, const char* task, const Timing& ours,
                const std::optional<Timing>& peer) {
    fmt::print("{:<14} {:<6} {:>5} {:>11.1f} {:>11} {:>10} {:>10.0f} {:>10}\n", preset, task,
               ours.batch, ours.images_per_s, peer_text(peer), ratio_text(ours, peer),
               ours.peak_rss_mib, peer ? fmt::format("{:.0f}", peer->peak_rss_mib) : "-");
  };
  for (const auto& r : results) {
    row(r.preset, "train", r.ours_train, r.peer_train);
    row(r.preset, "sample", r.ours_sample, r.peer_sample);
  }
  fmt::print("MiB: peak resident memory of the whole process while timing that task (VmHWM)\n");
  fmt::print("\nload_model of each preset as a diffusers folder (median of {} loads):\n",
             f.repeats);
  for (const auto& r : results)
    fmt::print(
        "  {:<14} {:>10} parameters  {:.3f} s{}\n", r.preset, r.parameters, r.ours_load.median_s,
        r.preset == "ddpm-cifar10"
            ? (r.ours_load.median_s < 1.0 ? "  (target < 1 s: met)" : "  (target < 1 s: NOT met)")
            : "");
  fmt::print("load average {} at the end\n", load_average());
  if (f.profile) print_profiles(results, f.profile_top);

  bool same_network = true;
  if (!f.no_peer) {
    fmt::print("\nforward check (eval mode, batch {}, same input and weights):\n", kCheckBatch);
    for (const auto& r : results) {
      const bool ok = *r.max_abs_diff <= kMaxForwardDiff;
      same_network = same_network && ok;
      fmt::print("  {:<14} {:>10} parameters  max |peer - ours| = {:.3g} (max |out| {:.3g}) {}\n",
                 r.preset, r.parameters, *r.max_abs_diff, r.max_abs_output,
                 ok ? "ok" : fmt::format("FAILED: above {:g}", kMaxForwardDiff));
    }
  }

  if (!f.json_path.empty()) {
    json out = {{"libtorch", TORCH_VERSION},    {"threads", threads},
                {"device", f.device},           {"precision", f.precision},
                {"cuda_graphs", f.cuda_graphs}, {"peer_compile", f.peer_compile},
                {"cpu", cpu_model()},           {"sample_steps", f.sample_steps},
                {"warmup", f.warmup},           {"repeats", f.repeats},
                {"lr", kLearningRate},          {"weight_decay", kWeightDecay},
                {"presets", json::array()}};
    for (const auto& r : results) {
      json p = {{"preset", r.preset},
                {"parameters", r.parameters},
                {"ours",
                 {{"train", to_json(r.ours_train)},
                  {"sample", to_json(r.ours_sample)},
                  {"load", to_json(r.ours_load)}}}};
      if (r.peer_train) {
        p["peer"] = {{"torch_version", r.peer_torch},
                     {"train", to_json(*r.peer_train)},
                     {"sample", to_json(*r.peer_sample)}};
        p["forward_max_abs_diff"] = *r.max_abs_diff;
        p["ratio"] = {{"train", r.ours_train.images_per_s / r.peer_train->images_per_s},
                      {"sample", r.ours_sample.images_per_s / r.peer_sample->images_per_s}};
      }
      out["presets"].push_back(p);
    }
    ddpm::write_file_atomic(f.json_path, out.dump(2) + "\n");
    fmt::print("wrote {}\n", f.json_path);
  }
  if (const auto timings = ddpm::conv3x3_measurements(); !timings.empty()) {
    // The autotune's table: every layer shape it measured, and what it kept.
    const auto choices = ddpm::conv3x3_choices();
    auto ms = [](double seconds) {
      return std::isnan(seconds) ? std::string("-") : fmt::format("{:.3f}", 1e3 * seconds);
    };
    fmt::print(
        "\nConvolutions, autotuned (median ms; +grad: forward + backward; 1x1: the residual "
        "shortcuts, without gradients):\n");
    fmt::print("{:<30} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}  {}\n", "N x C->K x H x W", "oneDNN",
               "F(2x2)", "F(4x4)", "direct", "pointwise", "best/1DNN", "kept");
    for (const auto& [key, t] : timings) {
      double best = std::numeric_limits<double>::infinity();
      for (double candidate : {t.winograd2, t.winograd4, t.direct, t.pointwise})
        if (!std::isnan(candidate)) best = std::min(best, candidate);
      fmt::print("{:<30} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8.2f}x  {}\n", key, ms(t.onednn),
                 ms(t.winograd2), ms(t.winograd4), ms(t.direct), ms(t.pointwise), t.onednn / best,
                 ddpm::to_string(choices.at(key)));
    }
  }
  if (!same_network) {
    fmt::print(stderr, "error: the peer's forward pass differs from ours by more than {:g}\n",
               kMaxForwardDiff);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ddpm_bench: training and DDIM sampling images/s of our UNet presets, next to the same\n"
      "network in PyTorch from Python (bench/peer_pytorch.py) on this machine, in this run."};
  Flags f;
  app.add_option("--presets", f.presets, "Comma-separated model presets (diffusers layout)")
      ->delimiter(',')
      ->check(CLI::IsMember(ddpm::model_preset_names()));
  app.add_option("--threads", f.threads, "CPU threads for both sides (0: all cores)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--train-batch", f.train_batch,
                 "Images per training step (default: fashion-mnist 32, ddpm-cifar10 8)")
      ->check(CLI::PositiveNumber);
  app.add_option("--sample-batch", f.sample_batch,
                 "Images per DDIM run (default: fashion-mnist 32, ddpm-cifar10 8)")
      ->check(CLI::PositiveNumber);
  app.add_option("--sample-steps", f.sample_steps, "DDIM steps (network evaluations) per run")
      ->check(CLI::Range(1, 1000));
  app.add_option("--warmup", f.warmup, "Untimed runs before timing")->check(CLI::NonNegativeNumber);
  app.add_option("--repeats", f.repeats, "Timed runs; the median is reported")
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", f.seed, "Seed of the weights and inputs");
  auto* peer = app.add_option("--peer", f.peer, "Python with torch 1.13 for the PyTorch peer");
  app.add_flag("--no-peer", f.no_peer, "Measure ours only")->excludes(peer);
  app.add_flag("--profile", f.profile,
               "Also print a per-operator profile (self time, FLOPs, GFLOP/s vs the sgemm peak)");
  app.add_option("--profile-top", f.profile_top, "Operators listed per profile")
      ->check(CLI::PositiveNumber);
  app.add_option("--json", f.json_path, "Also write every timing to this JSON file");
  app.add_option("--device", f.device, "cpu, cuda or cuda:N, for both sides (default cpu)");
  app.add_option("--precision", f.precision,
                 "Autocast for both sides: fp32, bf16, or fp16 (CUDA; training with loss scaling)")
      ->check(CLI::IsMember(precision_names()));
  app.add_flag("--cuda-graphs", f.cuda_graphs,
               "Ours: sample with the network replayed from a CUDA graph");
  app.add_flag("--peer-compile", f.peer_compile,
               "The peer: run the network through torch.compile (PyTorch 2; on the GPU machine)");
  app.add_flag("--default-allocator", f.default_allocator,
               "Both sides on glibc's default allocator settings (default: freed blocks kept for "
               "reuse, as ddpm does)");
  app.add_option("--conv", f.conv,
                 "Ours: 3x3 convolutions by oneDNN, Winograd F(2x2,3x3) or F(4x4,3x3), or auto "
                 "(measured per layer shape, the default as in ddpm; prints the table)")
      ->check(CLI::IsMember({"onednn", "auto", "winograd2", "winograd4"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return run(f);
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (auto pos = message.find("\nException raised from"); pos != std::string::npos)
      message.resize(pos);
    fmt::print(stderr, "error: {}\n", message);
    return 1;
  }
}

#include "pipeline/model_loading.h"

#include <fstream>

#include "models/state_dict.h"
#include "pipeline/checkpoint.h"

namespace ddpm {

namespace fs = std::filesystem;

template <>
const EnumTable<WeightsKind>& enum_table<WeightsKind>() {
  static const EnumTable<WeightsKind> table{
      "weights", {{WeightsKind::ema, "ema"}, {WeightsKind::raw, "raw"}}};
  return table;
}

namespace {

struct Located {
  fs::path config;
  fs::path checkpoint;
};

Located locate(const fs::path& path) {
  if (!fs::exists(path)) throw std::runtime_error(path.string() + ": no such file or directory");
  if (fs::is_regular_file(path / "config.json") && checkpoint_exists(path / "checkpoints/latest"))
    return {path / "config.json", path / "checkpoints/latest"};
  if (checkpoint_exists(path)) {
    for (const auto& candidate : {path / "config.json", path.parent_path().parent_path() / "config.json"})
      if (fs::is_regular_file(candidate)) return {candidate, path};
    throw std::runtime_error(path.string() + ": checkpoint folder without a config.json beside it "
                                             "or in its run directory");
  }
  throw std::runtime_error(path.string() +
                           ": not a run directory (config.json + checkpoints/latest/) or a "
                           "checkpoint folder (state.json + model.safetensors)");
}

}  // namespace

torch::Device parse_device(const std::string& text) {
  if (text == "auto") return torch::cuda::is_available() ? torch::kCUDA : torch::kCPU;
  torch::Device device = torch::kCPU;
  try {
    device = torch::Device(text);
  } catch (const c10::Error&) {
    throw std::invalid_argument("unknown device '" + text + "' (allowed: auto, cpu, cuda, cuda:N)");
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    throw std::invalid_argument("device '" + text + "' requested but this build of LibTorch " +
                                "has no CUDA or no GPU is visible (use --device cpu)");
  return device;
}

LoadedModel load_model(const fs::path& path, WeightsKind weights, const torch::Device& device) {
  auto where = locate(path);
  std::ifstream in(where.config);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(where.config.string() + ": " + e.what());
  }
  LoadedModel loaded;
  loaded.config = run_config_from_json(json);
  loaded.schedule = make_noise_schedule(loaded.config.schedule);
  auto checkpoint = read_checkpoint(where.checkpoint, /*with_optimizer=*/false);
  loaded.checkpoint_dir = where.checkpoint;
  loaded.step = checkpoint.state.value("step", int64_t(0));
  loaded.model = UNet(loaded.config.model);
  const bool ema = weights == WeightsKind::ema;
  if (ema && checkpoint.ema.empty())
    throw std::runtime_error(where.checkpoint.string() +
                             ": has no ema.safetensors (use --weights raw)");
  load_state_dict(*loaded.model, ema ? checkpoint.ema : checkpoint.model,
                  (where.checkpoint / (ema ? "ema.safetensors" : "model.safetensors")).string());
  loaded.model->to(device);
  loaded.model->eval();
  return loaded;
}

}  // namespace ddpm

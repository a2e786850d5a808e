// The folder half of runs/autoencoder_format.h (finding, loading and saving autoencoder folders),
// apart from the config translation so that the config fuzzer links without the network.
#include <fstream>

#include "io/atomic_file.h"
#include "io/python_json.h"
#include "io/safetensors.h"
#include "models/state_dict.h"
#include "runs/autoencoder_format.h"
#include "runs/diffusers_format.h"

namespace ddpm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kWeightsFile = "diffusion_pytorch_model.safetensors";

json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot read");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return parse_python_json(text);
  } catch (const json::exception& e) {
    throw std::runtime_error(path.string() + ": invalid JSON: " + e.what());
  }
}

}  // namespace

bool is_diffusers_autoencoder(const fs::path& dir) {
  if (!fs::is_regular_file(dir / "config.json")) return false;
  try {
    const json j = read_json_file(dir / "config.json");
    return j.is_object() && j.contains("_class_name") &&
           (j["_class_name"] == "AutoencoderKL" || j["_class_name"] == "VQModel");
  } catch (const std::runtime_error&) {
    return false;
  }
}

fs::path find_autoencoder_folder(const fs::path& path) {
  if (is_diffusers_autoencoder(path)) return path;
  for (const char* sub : {"autoencoder", "vae", "vqvae"})
    if (is_diffusers_autoencoder(path / sub)) return path / sub;
  if (!fs::exists(path)) throw std::runtime_error(path.string() + ": no such file or directory");
  throw std::runtime_error(
      path.string() +
      ": no autoencoder here: expected an AutoencoderKL or VQModel folder (config.json + " +
      kWeightsFile +
      "), a ddpm train-autoencoder run that has finished (its autoencoder/), or a latent pipeline "
      "or run (vae/, vqvae/ or autoencoder/)");
}

Autoencoder load_autoencoder(const fs::path& dir, const torch::Device& device) {
  const fs::path config_file = dir / "config.json";
  const fs::path weights_file = dir / kWeightsFile;
  if (!fs::is_regular_file(config_file) || !fs::is_regular_file(weights_file))
    throw std::runtime_error(dir.string() + ": an autoencoder folder needs config.json and " +
                             kWeightsFile);
  AutoencoderConfig config;
  try {
    config = autoencoder_config_from_diffusers(read_json_file(config_file), config_file.string());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  Autoencoder model(config);
  TensorMap tensors;
  try {
    tensors = convert_legacy_attention_keys(read_safetensors(weights_file).tensors);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(weights_file.string() + ": " + e.what());
  }
  load_state_dict(*model, tensors, weights_file.string());
  model->to(device);
  model->eval();
  return model;
}

void save_autoencoder(Autoencoder& autoencoder, const fs::path& dir) {
  fs::create_directories(dir);
  TensorMap cpu;
  for (const auto& [name, t] : state_dict(*autoencoder))
    cpu.emplace(name, t.detach().to(torch::kCPU, torch::kFloat32).contiguous());
  write_safetensors(dir / kWeightsFile, cpu, {{"format", "pt"}});
  write_file_atomic(dir / "config.json",
                    autoencoder_config_to_diffusers(autoencoder->config()).dump(2) + "\n");
}

}  // namespace ddpm

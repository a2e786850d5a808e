#include "experiments/latent_codes.h"

#include <sstream>

#include <fmt/format.h>

#include "core/timesteps.h"
#include "io/safetensors.h"
#include "samplers/ddim_inversion.h"
#include "samplers/sampler_registry.h"

namespace ddpm {

namespace fs = std::filesystem;

std::vector<int64_t> code_timesteps(const SamplerConfig& base, int64_t steps, int64_t T) {
  SamplerConfig ddim = switch_sampler(base, SamplerKind::ddim);
  ddim.steps = steps;
  validate_sampler_config(ddim, T);
  return inference_timesteps(ddim.timestep_spacing, T, ddim.steps, ddim.steps_offset);
}

torch::Tensor encode_images(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                            PredictionType prediction, const SamplingConfig& sampling,
                            const std::vector<int64_t>& timesteps, const torch::Tensor& x0,
                            int64_t fixed_point_iterations, const StepCallback& on_step) {
  DDIMInversionOptions o;
  o.prediction_type = prediction;
  o.set_alpha_to_one = sampling.sampler.set_alpha_to_one;
  o.fixed_point_iterations = fixed_point_iterations;
  return ddim_invert(denoise, schedule, o, timesteps, x0, on_step)
      .detach()
      .to(torch::kCPU, torch::kFloat32);
}

torch::Tensor decode_codes(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                           PredictionType prediction, const SamplingConfig& sampling,
                           const std::vector<int64_t>& timesteps, const torch::Tensor& x_T,
                           const StepCallback& on_step) {
  SamplerConfig ddim = switch_sampler(sampling.sampler, SamplerKind::ddim);
  ddim.eta = 0.0;
  ddim.clip_sample = false;  // clipping would make decoding the inverse of nothing
  return run_sampler(ddim, {denoise, schedule, prediction, {}, on_step}, x_T, timesteps)
      .detach()
      .to(torch::kCPU, torch::kFloat32);
}

RoundTripError round_trip_error(const torch::Tensor& decoded, const torch::Tensor& original,
                                const Codec& codec) {
  TORCH_CHECK(decoded.sizes() == original.sizes(),
              "round_trip_error: shapes differ: ", decoded.sizes(), " and ", original.sizes());
  auto a = decoded.to(torch::kCPU, torch::kFloat64), b = original.to(torch::kCPU, torch::kFloat64);
  RoundTripError e;
  e.mse = (a - b).pow(2).mean().item<double>();
  e.max_abs = (a - b).abs().max().item<double>();
  auto pa = codec.to_uint8(a.to(torch::kFloat32)).to(torch::kFloat64);
  auto pb = codec.to_uint8(b.to(torch::kFloat32)).to(torch::kFloat64);
  e.pixel_mse = ((pa - pb) / 255.0).pow(2).mean().item<double>();
  return e;
}

void write_latent_codes(const fs::path& path, const LatentCodes& codes) {
  TORCH_CHECK(codes.x_T.defined() && codes.x_T.dim() == 4,
              "write_latent_codes: x_T must be [N, C, H, W]");
  TensorMap tensors{{"x_T", codes.x_T.to(torch::kCPU, torch::kFloat32).contiguous()}};
  if (codes.x_0.defined()) tensors["x_0"] = codes.x_0.to(torch::kCPU, torch::kFloat32).contiguous();
  auto metadata = codes.info;
  metadata["format"] = kLatentCodesFormat;
  metadata["timesteps"] = fmt::format("{}", fmt::join(codes.timesteps, ","));
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  write_safetensors(path, tensors, metadata);
}

LatentCodes read_latent_codes(const fs::path& path) {
  auto file = read_safetensors(path);
  auto fail = [&](const std::string& what) {
    throw std::runtime_error(path.string() + ": not a latent codes file as `ddpm encode` writes (" +
                             what + ")");
  };
  auto format = file.metadata.find("format");
  if (format == file.metadata.end() || format->second != kLatentCodesFormat)
    fail("metadata \"format\" is not \"" + std::string(kLatentCodesFormat) + "\"");
  LatentCodes codes;
  auto x_T = file.tensors.find("x_T");
  if (x_T == file.tensors.end() || x_T->second.dim() != 4) fail("no x_T tensor [N, C, H, W]");
  codes.x_T = x_T->second.to(torch::kFloat32);
  if (auto x0 = file.tensors.find("x_0"); x0 != file.tensors.end()) {
    if (x0->second.sizes() != codes.x_T.sizes()) fail("x_0 and x_T differ in shape");
    codes.x_0 = x0->second.to(torch::kFloat32);
  }
  std::stringstream list(file.metadata.count("timesteps") ? file.metadata.at("timesteps") : "");
  std::string item;
  try {
    while (std::getline(list, item, ',')) codes.timesteps.push_back(std::stoll(item));
  } catch (const std::exception&) {
    fail("metadata \"timesteps\" is not a comma list of integers");
  }
  if (codes.timesteps.empty()) fail("metadata \"timesteps\" is empty");
  for (size_t i = 1; i < codes.timesteps.size(); ++i)
    if (codes.timesteps[i] >= codes.timesteps[i - 1]) fail("timesteps are not descending");
  for (const auto& [key, value] : file.metadata)
    if (key != "format" && key != "timesteps") codes.info[key] = value;
  return codes;
}

}  // namespace ddpm

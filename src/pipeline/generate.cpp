#include "pipeline/generate.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/safetensors.h"

#include "models/cuda_graph_denoiser.h"
#include "models/denoiser.h"
#include "samplers/ddim.h"
#include "samplers/ddpm.h"

namespace ddpm {

torch::Tensor read_initial_noise(const std::filesystem::path& file, const UNetConfig& model) {
  const auto tensors = read_safetensors(file).tensors;
  auto it = tensors.find("x_T");
  if (it == tensors.end()) {
    std::string names;
    for (const auto& [name, t] : tensors) names += (names.empty() ? "" : ", ") + name;
    throw std::runtime_error(
        file.string() + ": no tensor named x_T (found: " + (names.empty() ? "none" : names) + ")");
  }
  const auto& x = it->second;
  if (!x.is_floating_point())
    throw std::runtime_error(file.string() + ": x_T has dtype " +
                             std::string(c10::toString(x.scalar_type())) +
                             ", expected a floating-point type");
  if (x.dim() != 4 || x.size(0) < 1 || x.size(1) != model.in_channels ||
      x.size(2) != model.sample_size || x.size(3) != model.sample_size)
    throw std::runtime_error(fmt::format(
        "{}: x_T has shape [{}] but the model needs [N, {}, {}, {}] with N >= 1", file.string(),
        fmt::join(x.sizes(), ", "), model.in_channels, model.sample_size, model.sample_size));
  return x.to(torch::kFloat32);
}

std::vector<int64_t> sampling_timesteps(const SamplingConfig& s, int64_t T) {
  const int64_t steps = s.steps > 0 ? s.steps : T;
  return inference_timesteps(s.timestep_spacing, T, steps, s.steps_offset);
}

torch::Tensor generate(UNet& model, const NoiseSchedule& schedule, PredictionType prediction,
                       const SamplingConfig& sampling, const GenerateRequest& request,
                       const GenerateProgress& progress) {
  TORCH_CHECK(request.count >= 1 && request.batch_size >= 1,
              "generate: count and batch_size must be >= 1");
  const auto& mc = model->config();
  const auto device = model->parameters().front().device();
  torch::Generator gen = at::detail::createCPUGenerator(request.seed);
  torch::Tensor x_T = request.x_T;
  if (x_T.defined()) {
    TORCH_CHECK(x_T.dim() == 4 && x_T.size(0) == request.count && x_T.size(1) == mc.in_channels &&
                    x_T.size(2) == mc.sample_size && x_T.size(3) == mc.sample_size,
                "initial noise has shape ", x_T.sizes(), " but the model needs [", request.count,
                ", ", mc.in_channels, ", ", mc.sample_size, ", ", mc.sample_size, "]");
  } else {
    x_T = draw_noise({request.count, mc.in_channels, mc.sample_size, mc.sample_size},
                     torch::kFloat32, gen);
  }
  auto denoise = sampling.cuda_graphs
                     ? make_cuda_graph_denoise_fn(model, schedule, sampling.precision)
                     : make_denoise_fn(model, schedule, sampling.precision);
  auto timesteps = sampling_timesteps(sampling, schedule.num_train_timesteps);
  const int64_t batches = (request.count + request.batch_size - 1) / request.batch_size;
  std::vector<torch::Tensor> out;
  c10::InferenceMode inference;  // sampling never needs autograd
  for (int64_t b = 0; b < batches; ++b) {
    auto x = x_T.slice(0, b * request.batch_size, (b + 1) * request.batch_size)
                 .to(device, torch::kFloat32);
    StepCallback on_step;
    if (progress) on_step = [&](const SamplerStep& s) { progress(b, batches, s); };
    if (sampling.sampler == SamplerKind::ddim) {
      DDIMOptions o;
      o.eta = sampling.eta;
      o.prediction_type = prediction;
      o.clip_sample = sampling.clip_sample;
      o.clip_range = sampling.clip_range;
      o.set_alpha_to_one = sampling.set_alpha_to_one;
      x = ddim_sample(denoise, schedule, o, timesteps, x, gen, on_step);
    } else {
      DDPMOptions o;
      o.variance_type = sampling.variance_type;
      o.prediction_type = prediction;
      o.clip_sample = sampling.clip_sample;
      o.clip_range = sampling.clip_range;
      x = ddpm_sample(denoise, schedule, o, timesteps, x, gen, on_step);
    }
    out.push_back(x.to(torch::kCPU, torch::kFloat32));
  }
  return torch::cat(out);
}

}  // namespace ddpm

#include "runs/generate.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/safetensors.h"

#include "models/cuda_graph_denoiser.h"
#include "models/denoiser.h"
#include "samplers/guidance.h"
#include "samplers/noise_source.h"
#include "samplers/sampler_registry.h"

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

torch::Tensor default_class_labels(int64_t count, int64_t num_classes) {
  if (num_classes < 1)
    throw std::invalid_argument(
        "the model is class-conditional but its number of classes is unknown: pass the labels "
        "(--class-labels)");
  return torch::arange(count, torch::kLong).remainder(num_classes);  // [count]
}

DenoiseFn sampling_denoise_fn(UNet model, const NoiseSchedule& schedule, const RunConfig& config,
                              const torch::Tensor& labels) {
  const auto precision = config.sampling.precision;
  if (model->config().num_class_embeds == 0) {
    check_class_labels(model->config(), labels, labels.defined() ? labels.size(0) : 0);
    return make_denoise_fn(std::move(model), schedule, precision);
  }
  check_guidance({labels.defined() ? labels.to(torch::kLong) : labels,
                  config.sampling.guidance_scale, config.classes.null_class});
  auto net = make_labelled_denoise_fn(std::move(model), schedule, precision);
  const auto classes = config.classes;
  const double scale = config.sampling.guidance_scale;
  const auto given = labels.defined() ? labels.to(torch::kLong) : labels;
  return [net, given, classes, scale](const torch::Tensor& x_t, const torch::Tensor& t) {
    const int64_t B = x_t.size(0);
    auto batch_labels = !given.defined()     ? default_class_labels(B, classes.num_classes)
                        : given.size(0) == 1 ? given.expand({B}).clone()
                                             : given;
    return guided_denoise_fn(net, {batch_labels, scale, classes.null_class})(x_t, t);
  };
}

torch::Tensor generate(UNet& model, const NoiseSchedule& schedule, PredictionType prediction,
                       const SamplingConfig& sampling, const GenerateRequest& request,
                       const GenerateProgress& progress) {
  TORCH_CHECK(request.count >= 1 && request.batch_size >= 1,
              "generate: count and batch_size must be >= 1");
  const auto& mc = model->config();
  const auto device = model->parameters().front().device();
  if (request.x_T.defined())
    TORCH_CHECK(request.x_T.dim() == 4 && request.x_T.size(0) == request.count &&
                    request.x_T.size(1) == mc.in_channels &&
                    request.x_T.size(2) == mc.sample_size && request.x_T.size(3) == mc.sample_size,
                "initial noise has shape ", request.x_T.sizes(), " but the model needs [",
                request.count, ", ", mc.in_channels, ", ", mc.sample_size, ", ", mc.sample_size,
                "]");
  torch::Tensor labels = request.class_labels;
  if (mc.num_class_embeds > 0 && !labels.defined())
    labels = default_class_labels(request.count, request.classes.num_classes);
  check_class_labels(mc, labels, request.count);
  if (labels.defined()) labels = labels.to(torch::kLong);
  check_guidance({labels, sampling.guidance_scale, request.classes.null_class});
  auto net = sampling.cuda_graphs
                 ? make_cuda_graph_labelled_denoise_fn(model, schedule, sampling.precision)
                 : make_labelled_denoise_fn(model, schedule, sampling.precision);
  const int64_t batches = (request.count + request.batch_size - 1) / request.batch_size;
  std::vector<torch::Tensor> out;
  c10::InferenceMode inference;  // sampling never needs autograd
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t first = b * request.batch_size;
    const int64_t n = std::min(request.batch_size, request.count - first);
    auto gens = image_generators(request.seed, first, n);
    auto x = request.x_T.defined()
                 ? request.x_T.slice(0, first, first + n).to(device, torch::kFloat32)
                 : draw_per_image(gens, {mc.in_channels, mc.sample_size, mc.sample_size}, device);
    ClassGuidance guidance{labels.defined() ? labels.slice(0, first, first + n) : labels,
                           sampling.guidance_scale, request.classes.null_class};
    SamplerInputs inputs{
        guided_denoise_fn(net, guidance), schedule, prediction, per_image_noise(gens), {}};
    if (progress) inputs.on_step = [&](const SamplerStep& s) { progress(b, batches, s); };
    x = run_sampler(sampling.sampler, inputs, x);
    out.push_back(x.to(torch::kCPU, torch::kFloat32));
  }
  return torch::cat(out);
}

}  // namespace ddpm

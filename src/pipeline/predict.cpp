#include "pipeline/predict.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/safetensors.h"
#include "models/denoiser.h"

namespace ddpm {

namespace {

const torch::Tensor& named(const TensorMap& tensors, const std::string& name,
                           const std::filesystem::path& file) {
  auto it = tensors.find(name);
  if (it != tensors.end()) return it->second;
  std::vector<std::string> names;
  for (const auto& [n, t] : tensors) names.push_back(n);
  throw std::runtime_error(
      fmt::format("{}: no tensor named {} (found: {})", file.string(), name,
                  names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
}

}  // namespace

PredictInput read_predict_input(const std::filesystem::path& file, const UNetConfig& model,
                                int64_t T) {
  const auto tensors = read_safetensors(file).tensors;
  const auto& x = named(tensors, "x", file);
  const auto& t = named(tensors, "t", file);
  const std::string where = file.string();
  if (!x.is_floating_point() || x.dim() != 4 || x.size(0) < 1 || x.size(1) != model.in_channels)
    throw std::runtime_error(
        fmt::format("{}: x must be a float tensor [N, {}, H, W] with N >= 1, found {} [{}]", where,
                    model.in_channels, c10::toString(x.scalar_type()), fmt::join(x.sizes(), ", ")));
  // The UNet halves H and W (levels − 1) times and concatenates the skips: other sizes fail
  // deep inside the network with a message that names no file.
  const int64_t multiple = int64_t(1) << (num_levels(model) - 1);
  for (int64_t d : {2, 3})
    if (x.size(d) < 1 || x.size(d) % multiple != 0 || x.size(d) > kMaxSampleSize)
      throw std::runtime_error(fmt::format(
          "{}: x has shape [{}]; H and W must be multiples of {} (the model's {} levels halve "
          "them {} times) up to {} (kMaxSampleSize)",
          where, fmt::join(x.sizes(), ", "), multiple, num_levels(model), num_levels(model) - 1,
          kMaxSampleSize));
  if (t.is_floating_point() || t.scalar_type() == torch::kBool || t.dim() != 1 ||
      t.size(0) != x.size(0))
    throw std::runtime_error(fmt::format(
        "{}: t must be an integer tensor [N] = [{}] (int64, one step index per image), found "
        "{} [{}]",
        where, x.size(0), c10::toString(t.scalar_type()), fmt::join(t.sizes(), ", ")));
  auto t64 = t.to(torch::kInt64);
  if (t64.lt(0).any().item<bool>() || t64.ge(T).any().item<bool>())
    throw std::runtime_error(
        fmt::format("{}: t holds values outside [0, {}) (the model's "
                    "num_train_timesteps): min {}, max {}",
                    where, T, t64.min().item<int64_t>(), t64.max().item<int64_t>()));
  torch::Tensor labels;
  auto it = tensors.find("class_labels");
  if (it != tensors.end()) {
    try {
      check_class_labels(model, it->second, x.size(0));
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(fmt::format("{}: class_labels: {}", where, e.what()));
    }
    labels = it->second.to(torch::kInt64);
  } else if (model.num_class_embeds > 0) {
    throw std::runtime_error(fmt::format(
        "{}: the model is class-conditional (num_class_embeds = {}): add a tensor class_labels "
        "(int64 [{}]) beside x and t",
        where, model.num_class_embeds, x.size(0)));
  }
  return {x.to(torch::kFloat32), t64, labels};
}

torch::Tensor predict(UNet& model, const NoiseSchedule& schedule, const torch::Tensor& x,
                      const torch::Tensor& t, int64_t batch_size,
                      const torch::Tensor& class_labels) {
  TORCH_CHECK(batch_size >= 1, "predict: batch_size must be >= 1, got ", batch_size);
  const auto device = model->parameters().front().device();
  auto denoise = make_labelled_denoise_fn(model, schedule);
  std::vector<torch::Tensor> out;
  torch::NoGradGuard no_grad;
  for (int64_t begin = 0; begin < x.size(0); begin += batch_size) {
    const int64_t end = std::min(begin + batch_size, x.size(0));
    auto y = denoise(x.slice(0, begin, end).to(device, torch::kFloat32),
                     t.slice(0, begin, end).to(device),
                     class_labels.defined() ? class_labels.slice(0, begin, end) : class_labels);
    // [b, out, H, W]
    out.push_back(y.to(torch::kCPU, torch::kFloat32));
  }
  return torch::cat(out);
}

}  // namespace ddpm

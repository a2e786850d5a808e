#include "experiments/model_data.h"

#include <fmt/format.h>

namespace ddpm {

ModelData load_model_data(const std::string& source, const RunConfig& config, const Codec& codec) {
  ModelData out;
  out.config = config.data;
  out.config.source = source;
  const auto shape = codec.image_shape(config.model.in_channels, config.model.sample_size);
  out.config.channels = shape[0];
  out.config.image_size = shape[1];
  if (out.config.channels != 1 && out.config.channels != 3)
    throw std::invalid_argument(fmt::format(
        "the model takes {} input channels; real images can be fed only to models of 1 or 3",
        out.config.channels));
  try {
    check_image_size(out.config.image_size);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(
        fmt::format("the model takes {}x{} images, which --data cannot be "
                    "resized to: {}",
                    out.config.image_size, out.config.image_size, e.what()));
  }
  // The model's own codec: normalization statistics from its config (mean-std runs store them),
  // never refitted on this data.
  out.codec = codec;
  Dataset data = load_dataset(out.config);
  if (data.image_size != shape[1] || data.channels != shape[0])
    throw std::invalid_argument(fmt::format("{} gives {}x{}x{} images but the model takes {}x{}x{}",
                                            source, data.channels, data.image_size, data.image_size,
                                            shape[0], shape[1], shape[2]));
  if (data.validation.size(0) == 0)
    throw std::runtime_error(fmt::format(
        "{} has no validation images ({} training images, validation_fraction {}): add images",
        source, data.train.size(0), out.config.validation_fraction));
  out.validation = data.validation;
  out.skipped = data.skipped;
  return out;
}

std::vector<int64_t> pick_indices(int64_t available, int64_t count, uint64_t seed) {
  if (count < 1 || count > available)
    throw std::invalid_argument(
        fmt::format("asked for {} validation image(s) but the data has {} (choose 1 to {})", count,
                    available, available));
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  auto perm = torch::randperm(available, gen, torch::TensorOptions().dtype(torch::kLong));
  return std::vector<int64_t>(perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + count);
}

torch::Tensor pick_images(const ModelData& data, const std::vector<int64_t>& indices) {
  auto index = torch::tensor(indices, torch::kLong);
  return data.codec.encode(data.validation.index_select(0, index));
}

}  // namespace ddpm

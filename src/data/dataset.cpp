#include "data/dataset.h"

#include <filesystem>
#include <stdexcept>

#include "data/fashion_mnist.h"
#include "data/image_folder.h"
#include "io/image.h"
#include "io/json_fields.h"

namespace ddpm {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kFashionMnistDefaultSize = 32;  // DDPM/DDIM: 28×28 padded to 32×32
constexpr int64_t kFolderDefaultSize = 64;

// Fashion-MNIST at `size`: zero padding for 32 (and 28 → 28 unchanged), antialiased resize else.
torch::Tensor fit_fashion_mnist(const torch::Tensor& images, int64_t size, int64_t channels) {
  auto out = size == kFashionMnistDefaultSize ? pad_to_size(images, size)
                                              : resize_antialiased(images, size);
  return channels == 3 ? out.repeat({1, 3, 1, 1}) : out.contiguous();
}

void load_fashion_mnist(const DataConfig& config, Dataset& data) {
  data.image_size = config.image_size ? config.image_size : kFashionMnistDefaultSize;
  data.channels = config.channels ? config.channels : 1;
  auto fm = read_fashion_mnist(fashion_mnist_dir(config.fashion_mnist_dir));
  data.train = fit_fashion_mnist(fm.train_images, data.image_size, data.channels);
  data.validation = fit_fashion_mnist(fm.test_images, data.image_size, data.channels);
  data.train_labels = fm.train_labels;
  data.validation_labels = fm.test_labels;
  data.class_names = fashion_mnist_class_names();
}

void load_folder(const DataConfig& config, Dataset& data) {
  const fs::path root = config.source;
  if (!fs::exists(root))
    throw std::runtime_error("data.source '" + config.source + "' is neither '" +
                             kFashionMnistSource +
                             "' nor an existing folder of .png/.jpg/.jpeg images");
  data.image_size = config.image_size ? config.image_size : kFolderDefaultSize;
  auto folder =
      read_image_folder(root, data.image_size, config.channels, config.validation_fraction);
  data.train = std::move(folder.train);
  data.validation = std::move(folder.validation);
  data.channels = folder.channels;
  data.skipped = std::move(folder.skipped);
  std::vector<std::string> all = folder.train_files;
  all.insert(all.end(), folder.validation_files.begin(), folder.validation_files.end());
  try {
    auto train = folder_classes(all, folder.train_files);
    data.train_labels = train.labels;
    data.validation_labels = folder_classes(all, folder.validation_files).labels;
    data.class_names = train.names;
  } catch (const std::invalid_argument& e) {
    data.no_labels_reason = config.source + ": " + e.what();
  }
}

}  // namespace

nlohmann::json to_json(const DataConfig& c) {
  return {{"source", c.source},
          {"image_size", c.image_size},
          {"channels", c.channels},
          {"normalization", to_string(c.normalization)},
          {"mean", c.mean},
          {"stddev", c.stddev},
          {"hflip", c.hflip},
          {"validation_fraction", c.validation_fraction},
          {"fashion_mnist_dir", c.fashion_mnist_dir}};
}

DataConfig data_config_from_json(const nlohmann::json& json) {
  DataConfig c;
  JsonFields in(json, "data");
  in.read("source", c.source);
  in.read("image_size", c.image_size);
  in.read("channels", c.channels);
  in.read_enum("normalization", c.normalization);
  in.read("mean", c.mean);
  in.read("stddev", c.stddev);
  in.read("hflip", c.hflip);
  in.read("validation_fraction", c.validation_fraction);
  in.read("fashion_mnist_dir", c.fashion_mnist_dir);
  in.finish();
  check_data_config(c);
  return c;
}

// The largest side a training image may be resized to: the side of io/image.h's pixel limit (the
// models area's kMaxSampleSize has the same value; data sits below models and cannot name it).
constexpr int64_t kMaxImageSide = 8192;
static_assert(kMaxImageSide * kMaxImageSide == kMaxImagePixels);

void check_image_size(int64_t image_size, int64_t multiple) {
  if (image_size <= 0 || image_size % multiple != 0 || image_size > kMaxImageSide)
    throw std::invalid_argument(
        "image size must be a positive multiple of " + std::to_string(multiple) +
        " (the UNet halves it at each level) up to " + std::to_string(kMaxImageSide) + ", got " +
        std::to_string(image_size));
}

void check_data_config(const DataConfig& c) {
  if (c.source.empty())
    throw std::invalid_argument(std::string("data.source is empty (expected '") +
                                kFashionMnistSource + "' or a folder of images)");
  if (c.image_size != 0) {
    try {
      check_image_size(c.image_size);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string("data.image_size: ") + e.what() +
                                  " (0 follows the data)");
    }
  }
  if (c.channels != 0 && c.channels != 1 && c.channels != 3)
    throw std::invalid_argument("data.channels must be 0 (follow the data), 1 or 3, got " +
                                std::to_string(c.channels));
  if (!(c.validation_fraction >= 0 && c.validation_fraction < 1))
    throw std::invalid_argument("data.validation_fraction must be in [0, 1), got " +
                                std::to_string(c.validation_fraction));
  if (c.mean.size() != c.stddev.size())
    throw std::invalid_argument("data.mean has " + std::to_string(c.mean.size()) +
                                " value(s) but data.stddev has " + std::to_string(c.stddev.size()));
  if (!c.mean.empty() && c.normalization != Normalization::mean_std)
    throw std::invalid_argument(
        "data.mean/data.stddev apply only to mean-std normalization, but "
        "data.normalization is " +
        to_string(c.normalization));
  if (!c.mean.empty() && c.channels != 0 && int64_t(c.mean.size()) != c.channels)
    throw std::invalid_argument("data.mean has " + std::to_string(c.mean.size()) +
                                " value(s) but data.channels is " + std::to_string(c.channels));
  for (double s : c.stddev)
    if (!(s > 0))
      throw std::invalid_argument("data.stddev values must be > 0, found " + std::to_string(s));
}

Dataset load_dataset(const DataConfig& config) {
  check_data_config(config);
  Dataset data;
  if (config.source == kFashionMnistSource)
    load_fashion_mnist(config, data);
  else
    load_folder(config, data);

  if (config.mean.empty()) {
    data.normalization = fit_normalization(config.normalization, data.train);
  } else {
    if (int64_t(config.mean.size()) != data.channels)
      throw std::invalid_argument("data.mean has " + std::to_string(config.mean.size()) +
                                  " value(s) but the data has " + std::to_string(data.channels) +
                                  " channel(s)");
    data.normalization = dataset_normalization(config);
  }
  return data;
}

DataConfig resolved_data_config(const DataConfig& config, const Dataset& data) {
  DataConfig out = config;
  out.image_size = data.image_size;
  out.channels = data.channels;
  out.mean = data.normalization.mean;
  out.stddev = data.normalization.stddev;
  return out;
}

NormalizationParams dataset_normalization(const DataConfig& config) {
  NormalizationParams params;
  params.kind = config.normalization;
  if (config.normalization == Normalization::mean_std) {
    if (config.mean.empty())
      throw std::invalid_argument(
          "data.normalization is mean-std but data.mean/data.stddev are empty: they are computed "
          "from the training images and must be saved in the run's config.json "
          "(resolved_data_config)");
    params.mean = config.mean;
    params.stddev = config.stddev;
  }
  return params;
}

}  // namespace ddpm

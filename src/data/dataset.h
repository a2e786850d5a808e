// The training data of a run: where it comes from (DataConfig), and the uint8 images it loads
// (Dataset), split into training and validation, with the normalization the network sees.
//
// Sources: "fashion-mnist" (Debian's dataset-fashion-mnist package; 28×28 zero-padded to 32×32
// as DDPM and DDIM feed 32×32 models, train = the 60000 training images, validation = the 10000
// test images) or a folder of PNG/JPEG files (center-cropped and resized, 80/20 split by name).
//
//   DataConfig config;                        // fashion-mnist, 32x32, [-1,1]
//   Dataset data = load_dataset(config);      // data.train: uint8 [60000, 1, 32, 32]
//   auto x0 = normalize(batch, data.normalization);
//   config = resolved_data_config(config, data);  // what to write into the run's config.json
#pragma once
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "data/transforms.h"

namespace ddpm {

/// The source name of the built-in dataset; any other source is a folder path.
inline constexpr const char* kFashionMnistSource = "fashion-mnist";

struct DataConfig {
  /// "fashion-mnist" (the default: installed by scripts/setup.sh) or a folder of images.
  std::string source = kFashionMnistSource;
  /// Square side in pixels; 0 follows the data: 32 for Fashion-MNIST (28 + 2 px zero padding per
  /// side, the DDPM/DDIM 32×32 convention), 64 for folders. A positive multiple of 8, since the
  /// UNet halves it at each level.
  int64_t image_size = 0;
  /// 1 or 3; 0 follows the data (Fashion-MNIST: 1; folders: 3 when any image is colour, else 1).
  int64_t channels = 0;
  /// Pixel scaling: "[-1,1]" as DDPM (the default), or "mean-std" as the Keras DDIM example.
  Normalization normalization = Normalization::minus_one_one;
  /// mean-std: per-channel mean of x/255; empty = computed from the training split on loading.
  /// A run stores the computed values here so sampling can denormalize without the data.
  std::vector<double> mean;
  /// mean-std: per-channel standard deviation of x/255; empty = computed like `mean`.
  std::vector<double> stddev;
  /// Random horizontal flips while training; off because DDPM used them only for CIFAR-10.
  bool hflip = false;
  /// Share of a folder's images held out for validation, chosen by a hash of the file name;
  /// 0.2 is the usual 80/20 split. Fashion-MNIST validates on its own 10000 test images instead.
  double validation_fraction = 0.2;
  /// Folder of the Fashion-MNIST .gz files; empty = $DDPM_FASHION_MNIST_DIR when set, else
  /// /usr/share/datasets/fashion-mnist (where the Debian package puts them).
  std::string fashion_mnist_dir;
};

nlohmann::json to_json(const DataConfig& config);
/// Strict parse (unknown keys and bad values are errors naming what is allowed); absent keys keep
/// their defaults. Throws std::invalid_argument.
DataConfig data_config_from_json(const nlohmann::json& json);

/// Throws std::invalid_argument naming the first bad field of `config` (channels not 0/1/3,
/// image_size not 0 or a positive multiple of 8, validation_fraction outside [0, 1), mean/stddev
/// of different lengths, a stddev ≤ 0, or statistics given for "[-1,1]").
void check_data_config(const DataConfig& config);

/// Throws std::invalid_argument unless image_size is a positive multiple of `multiple` (8 for
/// the data; a UNet with L levels needs 2^(L−1)).
void check_image_size(int64_t image_size, int64_t multiple = 8);

struct Dataset {
  torch::Tensor train;       ///< uint8 [N_train, C, S, S]
  torch::Tensor validation;  ///< uint8 [N_validation, C, S, S] (N may be 0 for tiny folders)
  /// int64 [N] class indices where the source has them (Fashion-MNIST: 0..9; an image folder
  /// with one sub-folder per class).
  std::optional<torch::Tensor> train_labels, validation_labels;
  /// Names of the classes, in label order (empty without labels).
  std::vector<std::string> class_names;
  /// Without labels: why (for the error of a class-conditional run).
  std::string no_labels_reason;
  int64_t image_size = 0;  ///< S
  int64_t channels = 0;    ///< C
  /// What normalize()/denormalize_to_uint8() need; mean-std statistics from the training split.
  NormalizationParams normalization;
  /// Image files that could not be decoded and were left out (full paths); the CLI warns.
  std::vector<std::string> skipped;
};

/// Checks the config, then reads, resizes, splits and fits the normalization. Throws
/// std::invalid_argument for a bad config, std::runtime_error for missing or unreadable data.
Dataset load_dataset(const DataConfig& config);

/// `config` with image_size, channels and (for mean-std) mean/stddev set to what `data` used, so
/// the run's config.json reproduces the data and lets sampling denormalize.
DataConfig resolved_data_config(const DataConfig& config, const Dataset& data);

/// The normalization a run's config describes, without loading data. Throws std::invalid_argument
/// when it is mean-std but the config holds no statistics.
NormalizationParams dataset_normalization(const DataConfig& config);

}  // namespace ddpm

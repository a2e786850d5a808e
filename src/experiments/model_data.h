// The real images a figure starts from: the validation split of a data source (`--data`, the
// values `ddpm train --data` takes), prepared exactly as the model's training data was — the
// run config's data settings (normalization and its statistics, validation fraction), at the
// model's image size and channels — and picked deterministically from a seed.
//
//   auto data = load_model_data("fashion-mnist", loaded.config, loaded.codec);
//   auto x0 = pick_images(data, pick_indices(n, 4, /*seed=*/0));  // [4, C, S, S], model space
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "data/dataset.h"
#include "runs/codec.h"
#include "runs/run_config.h"

namespace ddpm {

struct ModelData {
  torch::Tensor validation;          ///< uint8 [N, C, S, S], S and C the model's
  Codec codec;                       ///< the model's (its normalization from its config)
  DataConfig config;                 ///< what was loaded
  std::vector<std::string> skipped;  ///< unreadable files left out (the CLI warns)
};

/// Loads `source` with `config.data`'s settings at the size and channels of the images the model
/// draws (config.model's through `codec`: a latent model's are the autoencoder's), so a folder
/// is centre-cropped and resized to the model, colour converted to its channels.
/// Throws std::invalid_argument when the model's size is not one the data loader can produce
/// (a multiple of 8), std::runtime_error when the data is missing or its validation split empty.
ModelData load_model_data(const std::string& source, const RunConfig& config, const Codec& codec);

/// `count` distinct indices in [0, available): the first `count` of a permutation drawn from a
/// CPU generator seeded with `seed`. Throws std::invalid_argument when count > available.
std::vector<int64_t> pick_indices(int64_t available, int64_t count, uint64_t seed);

/// The picked validation images encoded into model space: float32 [count, C', s, s].
torch::Tensor pick_images(const ModelData& data, const std::vector<int64_t>& indices);

}  // namespace ddpm

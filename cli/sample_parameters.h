// The "parameters" tEXt chunk of every PNG `ddpm sample` writes: everything that decides its
// pixels — the model (path and a hash of its weights file), the sampler with all its options,
// precision, guidance and null class, seed, count, batch size, class labels, CPU threads, the
// image's index (one PNG of --out-dir) or the grid's layout — and the ddpm version. No timestamp
// and no output path, so the same request writes the same bytes, and `ddpm sample --from-png`
// re-creates the file from it.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/conv3x3.h"

namespace ddpm::cli {

struct SampleParameters {
  std::string model;         ///< --model as given
  std::string weights;       ///< ema or raw
  std::string weights_hash;  ///< FNV-1a of the weights file (io/content_hash.h)
  nlohmann::json sampler;    ///< sampler_config_to_json of the resolved sampler
  std::string precision;
  double guidance_scale = 1;
  int64_t null_class = -1;
  uint64_t seed = 0;
  int64_t count = 0;
  int64_t batch_size = 0;
  /// One per image of the request (a grid), or of the image's batch (a PNG of one image: what
  /// re-drawing that batch needs, not the whole request's); empty for unconditional models.
  std::vector<int64_t> class_labels;
  int64_t per_class = 0;   ///< --grid-by-class: columns per class row
  int64_t threads = 0;     ///< CPU threads in effect (the bits depend on them)
  std::string init_noise;  ///< --init-noise file, and FNV-1a of its bytes
  std::string init_noise_hash;
  std::optional<int64_t> index;  ///< one image of --out-dir; absent: the grid of all
  /// How the 3×3 convolutions ran when not by oneDNN (DDPM_CONV, models/conv3x3.h), written as
  /// "conv3x3": {"policy", "choices": {shape: algorithm}}; absent for oneDNN, the default.
  std::optional<Conv3x3Policy> conv_policy;
  std::map<std::string, Conv3x3Algorithm> conv_choices;
};

/// The batch image `index` was drawn in: its first image and its size (generate draws
/// `batch_size` images at a time out of `count`).
struct DrawnBatch {
  int64_t first = 0;
  int64_t size = 0;
};
DrawnBatch batch_of(int64_t index, int64_t batch_size, int64_t count);

/// {"command": "sample", ...} (the image's class label too, when it has one); png_parameters
/// (io/png_text.h) adds the ddpm version as it writes the chunk.
nlohmann::json to_json(const SampleParameters& p);

/// Reads what to_json wrote; throws std::invalid_argument naming `origin` and the key when
/// something is missing or of the wrong type, or the PNG was written by another command.
SampleParameters sample_parameters_from_json(const nlohmann::json& j, const std::string& origin);

}  // namespace ddpm::cli

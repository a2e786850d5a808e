// Where the two sides of an FID/KID comparison come from, named on the command line:
//
//   fashion-mnist:train | fashion-mnist:test   the dataset (28×28 zero-padded to 32×32, as the
//                                              diffusion models see it)
//   DIR with config.json / state.json / model_index.json
//                                              a model (run directory, checkpoint or diffusers
//                                              folder): samples are drawn on the fly
//   DIR (anything else)                        a folder of PNG/JPEG images, all one size
//   FILE.safetensors                           features computed before: tensor `features`
//                                              [N, D] (and optionally `logits` [N, K]), with the
//                                              feature network's name in the metadata
//
//   auto source = parse_feature_source("fashion-mnist:test");
//   auto images = load_source_images(source, options);       // uint8 [N, C, H, W]
//   auto feats = source_features(source, net.get(), options); // [N, D] + what was measured
#pragma once
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "core/enum_table.h"
#include "eval/feature_net.h"
#include "runs/run_config.h"

namespace ddpm {

enum class SourceKind { fashion_mnist, model, image_folder, features_file };
template <>
const EnumTable<SourceKind>& enum_table<SourceKind>();

struct FeatureSource {
  SourceKind kind = SourceKind::fashion_mnist;
  std::string spec;            ///< as given
  std::filesystem::path path;  ///< model, folder or file
  std::string split;           ///< fashion-mnist: "train" or "test"
};

/// Classifies `spec` (see above). Throws std::invalid_argument naming the accepted forms when it
/// is none of them (a missing path, an unknown split, a file that is not .safetensors).
FeatureSource parse_feature_source(const std::string& spec);

struct SourceOptions {
  /// Images per source: a seeded random subset of datasets and folders (all when 0 or more than
  /// they hold); the number of samples drawn from a model (0: kDefaultModelSamples).
  int64_t count = 0;
  /// Seed of the subset choice and of the sampler (x_T and every draw).
  uint64_t seed = 0;
  /// Images per network call when sampling.
  int64_t sample_batch_size = 64;
  /// Sampler settings applied on top of a model's own (apply_sampler_overrides: "sampler" and
  /// option keys; an empty object keeps the model's).
  nlohmann::json sampler_overrides = nlohmann::json::object();
  std::string weights = "ema";    ///< model weights: ema or raw
  std::string device = "auto";    ///< where models sample
  std::string fashion_mnist_dir;  ///< empty: $DDPM_FASHION_MNIST_DIR or the Debian package's
};

/// Samples drawn from a model when SourceOptions::count is 0: 10000, the usual FID set size.
inline constexpr int64_t kDefaultModelSamples = 10000;

/// Progress: a phase ("sampling", "features") with done/total counts.
using SourceProgress = std::function<void(const std::string& phase, int64_t done, int64_t total)>;

struct SourceImages {
  torch::Tensor images;  ///< uint8 [N, C, H, W]
  /// What the images are, for reports: source, kind, images, and for models the checkpoint,
  /// step, weights, sampler, steps, eta and seed; for subsets the seed.
  nlohmann::json description;
};

/// The images of an image source (not features files). Throws naming the source on failure.
SourceImages load_source_images(const FeatureSource& source, const SourceOptions& options,
                                const SourceProgress& progress = {});

/// Channels and size the source's images will have, without sampling or decoding them all (to
/// pick and check the feature network before any long work). Features files: nullopt.
struct ImageShape {
  int64_t channels = 0, height = 0, width = 0;
};
std::optional<ImageShape> probe_source_shape(const FeatureSource& source,
                                             const SourceOptions& options);

struct SourceFeatures {
  torch::Tensor features;   ///< [N, D] float32
  torch::Tensor logits;     ///< [N, K] float32, undefined for features files without them
  std::string feature_net;  ///< the network's name
  nlohmann::json description;
};

/// Features of any source: computed with `net` for image sources (which must not be null then),
/// read for features files — whose recorded network must be `net`'s when one is given.
SourceFeatures source_features(const FeatureSource& source, FeatureNet* net,
                               const SourceOptions& options, int64_t feature_batch_size,
                               const SourceProgress& progress = {});

/// Writes features (and logits when defined) as a features file readable as a source.
void write_features_file(const std::filesystem::path& path, const SourceFeatures& features,
                         const FeatureNet& net);

}  // namespace ddpm

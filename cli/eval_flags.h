// The flags that fid, kid, inception-score, features and sweep share: which feature network, how
// many images, and how samples are drawn from a model source.
#pragma once
#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "eval/feature_net.h"
#include "eval/feature_source.h"
#include "sampler_flags.h"

namespace ddpm::cli {

struct EvalFlags {
  std::string inception;   ///< --inception: FID Inception weights
  std::string classifier;  ///< --classifier: other classifier weights
  int64_t n = 0;           ///< --n: images per source (0: all; kDefaultModelSamples from models)
  uint64_t seed = 0;
  int64_t batch_size = 50;                ///< feature network batch
  int64_t sample_batch_size = 64;         ///< sampler batch
  std::shared_ptr<SamplerFlags> sampler;  ///< model sources; unset flags keep the model's
  std::string weights = "ema";
  std::string device = "auto";
  int64_t threads = 0;
};

/// Registers the flags on `cmd`; `sampling` adds the sampler flags (sampler_flags.h),
/// --sample-batch-size and --weights for model sources.
void add_eval_flags(CLI::App& cmd, EvalFlags& flags, bool sampling = true);

SourceOptions source_options(const EvalFlags& flags);
FeatureNetOptions feature_net_options(const EvalFlags& flags);

/// The feature network for these sources, chosen from the first image source's shape and checked
/// against every other one before any sampling starts; null when all are features files.
std::unique_ptr<FeatureNet> feature_net_for(const std::vector<FeatureSource>& sources,
                                            const EvalFlags& flags);

/// source_features with a progress line on stderr.
SourceFeatures features_with_progress(const FeatureSource& source, FeatureNet* net,
                                      const EvalFlags& flags);

/// {"name", "dims", "weights", "protocol"} of the network (or of the features files' records).
nlohmann::json feature_net_json(const FeatureNet* net, const std::vector<SourceFeatures>& sides);

/// Throws when the sides' features come from different networks or have different dimensions.
void check_same_features(const std::vector<SourceFeatures>& sides);

/// The A and B positionals that fid and kid compare, with a footer listing what they may be.
void add_source_pair(CLI::App& cmd, std::string& a, std::string& b);

/// The features of A and B from one network (feature_net_for), with progress, checked to be
/// comparable; `net` receives the network (null when both are features files).
std::vector<SourceFeatures> source_pair_features(const std::string& a, const std::string& b,
                                                 const EvalFlags& flags,
                                                 std::unique_ptr<FeatureNet>& net);

}  // namespace ddpm::cli

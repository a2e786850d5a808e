#include "eval/feature_source.h"

#include <fmt/format.h>

#include <stdexcept>

#include "data/dataset.h"
#include "data/fashion_mnist.h"
#include "data/image_folder.h"
#include "data/transforms.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "runs/generate.h"
#include "runs/model_loading.h"
#include "samplers/sampler_registry.h"

namespace ddpm {

namespace fs = std::filesystem;
using nlohmann::json;

template <>
const EnumTable<SourceKind>& enum_table<SourceKind>() {
  static const EnumTable<SourceKind> table{"feature source",
                                           {{SourceKind::fashion_mnist, "fashion-mnist"},
                                            {SourceKind::model, "model"},
                                            {SourceKind::image_folder, "image folder"},
                                            {SourceKind::features_file, "features file"}}};
  return table;
}

namespace {

// data/dataset.cpp's Fashion-MNIST size: 28×28 zero-padded to 32×32 (DDPM/DDIM).
constexpr int64_t kFashionMnistPadded = 32;

const char* kAcceptedSources =
    "accepted: fashion-mnist:train, fashion-mnist:test, a model folder (run directory, checkpoint "
    "or diffusers folder: samples are drawn), a folder of PNG/JPEG images, or a .safetensors "
    "features file (tensor `features` [N, D])";

bool is_model_folder(const fs::path& dir) {
  return fs::is_regular_file(dir / "config.json") || fs::is_regular_file(dir / "state.json") ||
         fs::is_regular_file(dir / "model_index.json");
}

// The first `count` of a seeded permutation of [0, n), or everything when count is 0 or ≥ n.
std::optional<torch::Tensor> subset_indices(int64_t n, int64_t count, uint64_t seed) {
  if (count <= 0 || count >= n) return std::nullopt;
  auto gen = at::detail::createCPUGenerator(seed);
  return std::get<0>(torch::randperm(n, gen, torch::kLong).slice(0, 0, count).sort());
}

SamplingConfig sampling_for(const LoadedModel& loaded, const nlohmann::json& overrides) {
  SamplingConfig s = loaded.config.sampling;
  s.sampler = apply_sampler_overrides(s.sampler, overrides);
  validate_sampler_config(s.sampler, loaded.schedule.num_train_timesteps);
  return s;
}

SourceImages model_images(const FeatureSource& source, const SourceOptions& o,
                          const SourceProgress& progress) {
  auto loaded = load_model(source.path, parse_enum<WeightsKind>(o.weights), parse_device(o.device));
  const auto sampling = sampling_for(loaded, o.sampler_overrides);
  GenerateRequest request;
  request.count = o.count > 0 ? o.count : kDefaultModelSamples;
  request.batch_size = o.sample_batch_size;
  request.seed = o.seed;
  request.classes = loaded.config.classes;  // every class in turn, at the run's guidance scale
  auto samples =
      generate(loaded.model, loaded.schedule, loaded.config.prediction_type, sampling, request,
               [&](int64_t batch, int64_t batches, const SamplerStep& s) {
                 if (progress)
                   progress("sampling", batch * s.num_steps + s.index + 1, batches * s.num_steps);
               });
  SourceImages out;
  // Quantised to 8 bits as if saved to PNG, so samples and data are measured alike.
  out.images = loaded.codec.to_uint8(samples);
  out.description = {
      {"source", source.spec},
      {"kind", to_string(source.kind)},
      {"images", out.images.size(0)},
      {"checkpoint", loaded.checkpoint_dir.string()},
      {"step", loaded.step},
      {"weights", o.weights},
      {"sampler", sampler_config_to_json(sampling.sampler)},
      {"network_evaluations", network_evaluations(sampling.sampler, loaded.schedule)},
      {"seed", o.seed}};
  return out;
}

SourceImages fashion_mnist_images(const FeatureSource& source, const SourceOptions& o) {
  auto fm = read_fashion_mnist(fashion_mnist_dir(o.fashion_mnist_dir));
  auto images = source.split == "train" ? fm.train_images : fm.test_images;
  const int64_t total = images.size(0);
  auto subset = subset_indices(total, o.count, o.seed);
  if (subset) images = images.index_select(0, *subset);
  SourceImages out;
  out.images = pad_to_size(images, kFashionMnistPadded).contiguous();  // as data/dataset.cpp
  out.description = {{"source", source.spec}, {"kind", to_string(source.kind)},
                     {"split", source.split}, {"images", out.images.size(0)},
                     {"of", total},           {"preprocessing", "28x28 zero-padded to 32x32"}};
  if (subset) out.description["subset_seed"] = o.seed;
  return out;
}

SourceImages folder_images(const FeatureSource& source, const SourceOptions& o,
                           const SourceProgress& progress) {
  auto files = find_image_files(source.path);
  if (files.empty())
    throw std::runtime_error(source.path.string() +
                             ": no .png, .jpg or .jpeg files in this folder");
  const int64_t total = int64_t(files.size());
  std::vector<int64_t> chosen(total);
  for (int64_t i = 0; i < total; ++i) chosen[i] = i;
  auto subset = subset_indices(total, o.count, o.seed);
  if (subset)
    chosen.assign(subset->data_ptr<int64_t>(), subset->data_ptr<int64_t>() + subset->numel());
  std::vector<torch::Tensor> images;
  bool any_colour = false;
  for (size_t i = 0; i < chosen.size(); ++i) {
    const auto& file = files[chosen[i]];
    auto image = read_image(file);  // [C, H, W], gray → 1, colour → 3
    if (!images.empty() && image.sizes().slice(1) != images.front().sizes().slice(1))
      throw std::invalid_argument(
          fmt::format("{}: is {}x{} but {} is {}x{}; the images of a folder must all have one size",
                      file.string(), image.size(1), image.size(2), files[chosen[0]].string(),
                      images.front().size(1), images.front().size(2)));
    any_colour = any_colour || image.size(0) == 3;
    images.push_back(image);
    if (progress) progress("reading", int64_t(i + 1), int64_t(chosen.size()));
  }
  if (any_colour)  // a mixed folder is colour, as data/image_folder decides
    for (auto& image : images)
      if (image.size(0) == 1) image = image.repeat({3, 1, 1});
  SourceImages out;
  out.images = torch::stack(images);
  out.description = {{"source", source.spec},
                     {"kind", to_string(source.kind)},
                     {"images", out.images.size(0)},
                     {"of", total}};
  if (subset) out.description["subset_seed"] = o.seed;
  return out;
}

}  // namespace

FeatureSource parse_feature_source(const std::string& spec) {
  FeatureSource s;
  s.spec = spec;
  const std::string prefix = std::string(kFashionMnistSource) + ":";
  if (spec.rfind(prefix, 0) == 0 || spec == kFashionMnistSource) {
    s.kind = SourceKind::fashion_mnist;
    s.split = spec.size() > prefix.size() ? spec.substr(prefix.size()) : "";
    if (s.split != "train" && s.split != "test")
      throw std::invalid_argument("'" + spec +
                                  "': name the split, fashion-mnist:train or "
                                  "fashion-mnist:test");
    return s;
  }
  s.path = spec;
  if (fs::is_directory(s.path)) {
    s.kind = is_model_folder(s.path) ? SourceKind::model : SourceKind::image_folder;
    return s;
  }
  if (fs::is_regular_file(s.path)) {
    if (s.path.extension() != ".safetensors")
      throw std::invalid_argument("'" + spec +
                                  "' is a file but not a .safetensors features file (" +
                                  kAcceptedSources + ")");
    s.kind = SourceKind::features_file;
    return s;
  }
  throw std::invalid_argument("'" + spec + "' does not exist (" + kAcceptedSources + ")");
}

SourceImages load_source_images(const FeatureSource& source, const SourceOptions& options,
                                const SourceProgress& progress) {
  switch (source.kind) {
    case SourceKind::fashion_mnist:
      return fashion_mnist_images(source, options);
    case SourceKind::model:
      return model_images(source, options, progress);
    case SourceKind::image_folder:
      return folder_images(source, options, progress);
    case SourceKind::features_file:
      break;
  }
  throw std::invalid_argument("'" + source.spec + "' is a features file, not images");
}

std::optional<ImageShape> probe_source_shape(const FeatureSource& source,
                                             const SourceOptions& options) {
  switch (source.kind) {
    case SourceKind::fashion_mnist:
      return ImageShape{1, kFashionMnistPadded, kFashionMnistPadded};
    case SourceKind::model: {
      auto loaded = load_model(source.path, parse_enum<WeightsKind>(options.weights), torch::kCPU);
      sampling_for(loaded,
                   options.sampler_overrides);  // fail on bad overrides now, not after sampling
      const auto& m = loaded.config.model;
      const auto image = loaded.codec.image_shape(m.in_channels, m.sample_size);
      return ImageShape{image[0], image[1], image[2]};
    }
    case SourceKind::image_folder: {
      auto files = find_image_files(source.path);
      if (files.empty())
        throw std::runtime_error(source.path.string() +
                                 ": no .png, .jpg or .jpeg files in this folder");
      auto first = read_image(files.front());
      return ImageShape{first.size(0), first.size(1), first.size(2)};
    }
    case SourceKind::features_file:
      return std::nullopt;
  }
  return std::nullopt;
}

SourceFeatures source_features(const FeatureSource& source, FeatureNet* net,
                               const SourceOptions& options, int64_t feature_batch_size,
                               const SourceProgress& progress) {
  SourceFeatures out;
  if (source.kind == SourceKind::features_file) {
    auto file = read_safetensors(source.path);
    auto it = file.tensors.find("features");
    if (it == file.tensors.end() || it->second.dim() != 2)
      throw std::invalid_argument(source.path.string() +
                                  ": a features file needs a tensor `features` [N, D]");
    out.features = it->second.to(torch::kFloat32);
    if (auto l = file.tensors.find("logits"); l != file.tensors.end())
      out.logits = l->second.to(torch::kFloat32);
    out.feature_net = file.metadata.count("feature_net") ? file.metadata.at("feature_net") : "";
    if (net && !out.feature_net.empty() && out.feature_net != net->name())
      throw std::invalid_argument(source.path.string() + " holds " + out.feature_net +
                                  " features, but the other side uses " + net->name());
    if (net && out.features.size(1) != net->feature_dims())
      throw std::invalid_argument(fmt::format("{}: features have {} dimensions, {} gives {}",
                                              source.path.string(), out.features.size(1),
                                              net->name(), net->feature_dims()));
    auto subset = subset_indices(out.features.size(0), options.count, options.seed);
    if (subset) {
      out.features = out.features.index_select(0, *subset);
      if (out.logits.defined()) out.logits = out.logits.index_select(0, *subset);
    }
    out.description = {{"source", source.spec},
                       {"kind", to_string(source.kind)},
                       {"images", out.features.size(0)}};
    if (file.metadata.count("description"))
      out.description["computed_from"] = json::parse(file.metadata.at("description"));
    return out;
  }
  TORCH_CHECK(net, "source_features: a feature network is needed for ", source.spec);
  auto images = load_source_images(source, options, progress);
  out.features =
      extract_features(*net, images.images, feature_batch_size, [&](int64_t done, int64_t total) {
        if (progress) progress("features", done, total);
      });
  out.logits = net->logits(out.features);
  out.feature_net = net->name();
  out.description = images.description;
  return out;
}

void write_features_file(const fs::path& path, const SourceFeatures& features,
                         const FeatureNet& net) {
  TensorMap tensors{{"features", features.features.contiguous()}};
  if (features.logits.defined()) tensors["logits"] = features.logits.contiguous();
  write_safetensors(path, tensors,
                    {{"feature_net", net.name()},
                     {"protocol", net.protocol()},
                     {"description", features.description.dump()}});
}

}  // namespace ddpm

// What `ddpm fid A B` accepts as A and B: datasets, folders, models and features files.
#include <gtest/gtest.h>

#include <fstream>

#include "eval/feature_source.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(FeatureSource, ParsesEveryForm) {
  test::TempDir dir;
  fs::create_directories(dir.path / "images");
  fs::create_directories(dir.path / "run");
  std::ofstream(dir.path / "run" / "config.json") << "{}";
  std::ofstream(dir.path / "f.safetensors") << "";
  std::ofstream(dir.path / "notes.txt") << "";
  EXPECT_EQ(parse_feature_source("fashion-mnist:test").kind, SourceKind::fashion_mnist);
  EXPECT_EQ(parse_feature_source("fashion-mnist:train").split, "train");
  EXPECT_EQ(parse_feature_source((dir.path / "images").string()).kind, SourceKind::image_folder);
  EXPECT_EQ(parse_feature_source((dir.path / "run").string()).kind, SourceKind::model);
  EXPECT_EQ(parse_feature_source((dir.path / "f.safetensors").string()).kind,
            SourceKind::features_file);
  for (const std::string& bad : std::vector<std::string>{"fashion-mnist", "fashion-mnist:val",
                                                         (dir.path / "missing").string(),
                                                         (dir.path / "notes.txt").string()}) {
    try {
      parse_feature_source(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_TRUE(contains(e.what(), "fashion-mnist:test")) << e.what();
    }
  }
}

TEST(FeatureSource, FoldersBecomeOneTensorColourWhenAnyImageIs) {
  test::TempDir dir;
  torch::manual_seed(0);
  write_png(dir.path / "a.png", torch::randint(0, 256, {1, 28, 28}, torch::kUInt8));
  write_png(dir.path / "b.png", torch::randint(0, 256, {3, 28, 28}, torch::kUInt8));
  write_png(dir.path / "c.png", torch::randint(0, 256, {1, 28, 28}, torch::kUInt8));
  auto source = parse_feature_source(dir.path.string());
  auto shape = probe_source_shape(source, {});
  ASSERT_TRUE(shape);
  EXPECT_EQ(shape->height, 28);
  auto images = load_source_images(source, {});
  EXPECT_EQ(images.images.sizes(), (std::vector<int64_t>{3, 3, 28, 28}));
  EXPECT_EQ(images.description["images"], 3);
  SourceOptions two;
  two.count = 2;
  EXPECT_EQ(load_source_images(source, two).images.size(0), 2);
  write_png(dir.path / "d.png", torch::zeros({1, 30, 28}, torch::kUInt8));
  try {
    load_source_images(source, {});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), "d.png")) << e.what();
    EXPECT_TRUE(contains(e.what(), "one size")) << e.what();
  }
}

TEST(FeatureSource, FashionMnistIsPaddedAndSubsetsAreSeeded) {
  auto source = parse_feature_source("fashion-mnist:test");
  SourceOptions o;
  o.count = 100;
  o.seed = 3;
  auto a = load_source_images(source, o), b = load_source_images(source, o);
  EXPECT_EQ(a.images.sizes(), (std::vector<int64_t>{100, 1, 32, 32}));
  EXPECT_TRUE(a.images.equal(b.images));
  EXPECT_EQ(a.images.slice(2, 0, 2).max().item<int64_t>(), 0) << "2-px zero padding";
  o.seed = 4;
  EXPECT_FALSE(load_source_images(source, o).images.equal(a.images));
}

TEST(FeatureSource, FeaturesFilesRoundTripAndRememberTheirNetwork) {
  test::TempDir dir;
  auto net = make_feature_net({}, 1, 32, 32);
  SourceOptions o;
  o.count = 50;
  auto computed = source_features(parse_feature_source("fashion-mnist:test"), net.get(), o, 25);
  EXPECT_EQ(computed.features.sizes(), (std::vector<int64_t>{50, net->feature_dims()}));
  EXPECT_EQ(computed.logits.size(1), 10);
  const auto path = dir.path / "f.safetensors";
  write_features_file(path, computed, *net);
  auto read = source_features(parse_feature_source(path.string()), net.get(), {}, 25);
  EXPECT_TRUE(read.features.equal(computed.features));
  EXPECT_TRUE(read.logits.equal(computed.logits));
  EXPECT_EQ(read.feature_net, "fashion-mnist-classifier");
  EXPECT_EQ(read.description["computed_from"]["source"], "fashion-mnist:test");

  // A file whose features came from another network is refused.
  write_safetensors(dir.path / "other.safetensors", {{"features", torch::zeros({4, 2048})}},
                    {{"feature_net", "fid-inception-v3"}});
  try {
    source_features(parse_feature_source((dir.path / "other.safetensors").string()), net.get(), {},
                    25);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), "fid-inception-v3")) << e.what();
  }
}

}  // namespace
}  // namespace ddpm

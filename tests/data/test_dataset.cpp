#include "data/dataset.h"

#include <chrono>
#include <cstdlib>

#include "data/fashion_mnist.h"
#include "data/idx_writer.h"
#include "io/image.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::TempDir;

template <typename E = std::exception>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no exception of the expected type)";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

DataConfig synthetic_fashion(const fs::path& dir) {
  DataConfig config;
  config.fashion_mnist_dir = dir.string();
  return config;
}

TEST(DataConfig, JsonRoundTripAndStrictParsing) {
  DataConfig c;
  c.source = "photos/";
  c.image_size = 64;
  c.channels = 3;
  c.normalization = Normalization::mean_std;
  c.mean = {0.1, 0.2, 0.3};
  c.stddev = {0.4, 0.5, 0.6};
  c.hflip = true;
  c.validation_fraction = 0.1;
  c.fashion_mnist_dir = "/tmp/fm";
  auto j = to_json(c);
  EXPECT_EQ(j.at("normalization"), "mean-std");
  // Field by field (not to_json against to_json, which a field left out of both would pass).
  const DataConfig back = data_config_from_json(j);
  EXPECT_EQ(back.source, c.source);
  EXPECT_EQ(back.image_size, c.image_size);
  EXPECT_EQ(back.channels, c.channels);
  EXPECT_EQ(back.normalization, c.normalization);
  EXPECT_EQ(back.mean, c.mean);
  EXPECT_EQ(back.stddev, c.stddev);
  EXPECT_EQ(back.hflip, c.hflip);
  EXPECT_EQ(back.validation_fraction, c.validation_fraction);
  EXPECT_EQ(back.fashion_mnist_dir, c.fashion_mnist_dir);
  // Each key carries its field: without it, the field reads back as the default.
  for (const auto& [key, value] : j.items()) {
    auto without = j;
    without.erase(key);
    try {
      EXPECT_NE(to_json(data_config_from_json(without)).at(key), value) << key;
    } catch (const std::invalid_argument&) {
      // refused without it (mean without stddev): noticed too
    }
  }
  EXPECT_EQ(to_json(data_config_from_json(json::object())), to_json(DataConfig{}));
  EXPECT_EQ(to_json(DataConfig{}).at("normalization"), "[-1,1]");

  auto unknown = error_of<std::invalid_argument>([] { data_config_from_json({{"size", 32}}); });
  EXPECT_TRUE(contains(unknown, "unknown key 'size'")) << unknown;
  EXPECT_TRUE(contains(unknown, "image_size")) << unknown;
  auto bad_enum = error_of<std::invalid_argument>([] {
    data_config_from_json({{"normalization", "0-1"}});
  });
  EXPECT_TRUE(contains(bad_enum, "[-1,1], mean-std")) << bad_enum;
  auto bad_size = error_of<std::invalid_argument>([] {
    data_config_from_json({{"image_size", 28}});
  });
  EXPECT_TRUE(contains(bad_size, "multiple of 8")) << bad_size;
  EXPECT_TRUE(contains(bad_size, "28")) << bad_size;
  for (const json& bad :
       {json{{"channels", 2}}, json{{"validation_fraction", 1.0}}, json{{"image_size", -8}},
        json{{"source", ""}}, json{{"normalization", "mean-std"}, {"mean", {0.5}}, {"stddev", {}}},
        json{{"normalization", "mean-std"}, {"mean", {0.5}}, {"stddev", {0.0}}},
        json{{"mean", {0.5}}, {"stddev", {0.5}}}})
    EXPECT_THROW(data_config_from_json(bad), std::invalid_argument) << bad.dump();
}

TEST(DataConfig, ImageSizeHelper) {
  EXPECT_NO_THROW(check_image_size(32));
  EXPECT_NO_THROW(check_image_size(48, 16));
  EXPECT_THROW(check_image_size(40, 16), std::invalid_argument);
  EXPECT_THROW(check_image_size(0), std::invalid_argument);
}

TEST(FashionMnist, SyntheticFilesPadTo32AndKeepLabels) {
  TempDir dir;
  test::SyntheticFashionMnist fm(dir.path);
  auto data = load_dataset(synthetic_fashion(dir.path));
  EXPECT_EQ(data.image_size, 32);
  EXPECT_EQ(data.channels, 1);
  EXPECT_EQ(data.train.sizes(), (std::vector<int64_t>{5, 1, 32, 32}));
  EXPECT_EQ(data.validation.sizes(), (std::vector<int64_t>{3, 1, 32, 32}));
  EXPECT_TRUE(data.train.slice(2, 2, 30).slice(3, 2, 30).squeeze(1).equal(fm.train_images));
  EXPECT_TRUE(data.validation.slice(2, 2, 30).slice(3, 2, 30).squeeze(1).equal(fm.test_images));
  EXPECT_EQ(data.train.sum().item<int64_t>(), fm.train_images.sum().item<int64_t>());  // 0 border
  ASSERT_TRUE(data.train_labels && data.validation_labels);
  EXPECT_EQ(data.train_labels->scalar_type(), torch::kInt64);
  EXPECT_TRUE(data.train_labels->equal(fm.train_labels.to(torch::kInt64)));
  EXPECT_TRUE(data.validation_labels->equal(fm.test_labels.to(torch::kInt64)));
  EXPECT_TRUE(data.skipped.empty());
  EXPECT_EQ(data.normalization.kind, Normalization::minus_one_one);
}

TEST(FashionMnist, OtherSizesResizeAndThreeChannelsRepeat) {
  TempDir dir;
  test::SyntheticFashionMnist fm(dir.path);
  auto config = synthetic_fashion(dir.path);
  config.image_size = 16;
  config.channels = 3;
  auto data = load_dataset(config);
  EXPECT_EQ(data.train.sizes(), (std::vector<int64_t>{5, 3, 16, 16}));
  EXPECT_TRUE(data.train.select(1, 0).equal(data.train.select(1, 2)));
  EXPECT_TRUE(data.train.select(1, 0).equal(
      resize_antialiased(fm.train_images.unsqueeze(1), 16).squeeze(1)));
}

TEST(FashionMnist, DirectoryComesFromConfigThenEnvironmentThenDefault) {
  const char* saved = std::getenv("DDPM_FASHION_MNIST_DIR");
  const std::string saved_value = saved ? saved : "";
  ::unsetenv("DDPM_FASHION_MNIST_DIR");
  EXPECT_EQ(fashion_mnist_dir(""), fs::path("/usr/share/datasets/fashion-mnist"));
  ::setenv("DDPM_FASHION_MNIST_DIR", "/from/env", 1);
  EXPECT_EQ(fashion_mnist_dir(""), fs::path("/from/env"));
  EXPECT_EQ(fashion_mnist_dir("/from/config"), fs::path("/from/config"));
  if (saved)
    ::setenv("DDPM_FASHION_MNIST_DIR", saved_value.c_str(), 1);
  else
    ::unsetenv("DDPM_FASHION_MNIST_DIR");
}

TEST(FashionMnist, MissingFilesSayHowToInstall) {
  TempDir dir;
  auto message =
      error_of<std::runtime_error>([&] { load_dataset(synthetic_fashion(dir.path / "absent")); });
  EXPECT_TRUE(contains(message, "Fashion-MNIST not found at")) << message;
  EXPECT_TRUE(contains(message, (dir.path / "absent").string())) << message;
  EXPECT_TRUE(contains(message, "train-images-idx3-ubyte.gz")) << message;
  EXPECT_TRUE(contains(message, "sudo apt-get install dataset-fashion-mnist")) << message;
  EXPECT_TRUE(contains(message, "scripts/setup.sh")) << message;

  test::SyntheticFashionMnist fm(dir.path);
  fs::remove(dir.path / "t10k-labels-idx1-ubyte.gz");
  message = error_of<std::runtime_error>([&] { load_dataset(synthetic_fashion(dir.path)); });
  EXPECT_TRUE(contains(message, "t10k-labels-idx1-ubyte.gz is missing")) << message;
}

TEST(FashionMnist, MismatchedOrBadLabelsAreErrors) {
  TempDir dir;
  test::SyntheticFashionMnist fm(dir.path);
  test::write_idx_pair(dir.path, "t10k", fm.test_images, torch::tensor({1, 2}, torch::kUInt8));
  auto count = error_of<std::runtime_error>([&] { load_dataset(synthetic_fashion(dir.path)); });
  EXPECT_TRUE(contains(count, "2 labels but")) << count;
  test::write_idx_pair(dir.path, "t10k", fm.test_images, torch::tensor({1, 2, 10}, torch::kUInt8));
  auto range = error_of<std::runtime_error>([&] { load_dataset(synthetic_fashion(dir.path)); });
  EXPECT_TRUE(contains(range, "labels 0..9")) << range;
}

TEST(FashionMnist, RealDatasetLoads) {
  const fs::path dir = kDefaultFashionMnistDir;
  if (!fs::exists(dir))
    GTEST_SKIP() << dir << " is absent (sudo apt-get install dataset-fashion-mnist)";
  const auto start = std::chrono::steady_clock::now();
  auto data = load_dataset(synthetic_fashion(dir));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(data.train.sizes(), (std::vector<int64_t>{60000, 1, 32, 32}));
  EXPECT_EQ(data.validation.sizes(), (std::vector<int64_t>{10000, 1, 32, 32}));
  for (const auto& images : {data.train, data.validation}) {
    EXPECT_EQ(images.slice(2, 0, 2).max().item<int>(), 0);
    EXPECT_EQ(images.slice(2, 30, 32).max().item<int>(), 0);
    EXPECT_EQ(images.slice(3, 0, 2).max().item<int>(), 0);
    EXPECT_EQ(images.slice(3, 30, 32).max().item<int>(), 0);
    EXPECT_EQ(images.max().item<int>(), 255);
  }
  ASSERT_TRUE(data.train_labels && data.validation_labels);
  // Fashion-MNIST is balanced: 6000 training and 1000 test images per class.
  EXPECT_TRUE(data.train_labels->bincount().equal(torch::full({10}, 6000, torch::kInt64)));
  EXPECT_TRUE(data.validation_labels->bincount().equal(torch::full({10}, 1000, torch::kInt64)));
  std::cout << "[          ] loaded Fashion-MNIST in " << seconds << " s\n";
}

TEST(Dataset, MeanStdStatisticsComeFromTheTrainingSplitAndAreSaved) {
  TempDir dir;
  test::SyntheticFashionMnist fm(dir.path);
  auto config = synthetic_fashion(dir.path);
  config.normalization = Normalization::mean_std;
  auto data = load_dataset(config);
  auto expected = fit_normalization(Normalization::mean_std, data.train);
  EXPECT_EQ(data.normalization.kind, Normalization::mean_std);
  EXPECT_EQ(data.normalization.mean, expected.mean);
  EXPECT_EQ(data.normalization.stddev, expected.stddev);

  auto sampling_error = error_of<std::invalid_argument>([&] { dataset_normalization(config); });
  EXPECT_TRUE(contains(sampling_error, "data.mean")) << sampling_error;
  auto resolved = resolved_data_config(config, data);
  EXPECT_EQ(resolved.image_size, 32);
  EXPECT_EQ(resolved.channels, 1);
  auto from_config = dataset_normalization(data_config_from_json(to_json(resolved)));
  EXPECT_EQ(from_config.mean, expected.mean);
  EXPECT_EQ(from_config.stddev, expected.stddev);

  // Saved statistics are used as given (a resumed run keeps its normalization).
  resolved.mean = {0.25};
  resolved.stddev = {0.5};
  auto again = load_dataset(resolved);
  EXPECT_EQ(again.normalization.mean, std::vector<double>{0.25});
  resolved.channels = 3;
  EXPECT_THROW(load_dataset(resolved), std::invalid_argument);
  EXPECT_EQ(dataset_normalization(DataConfig{}).kind, Normalization::minus_one_one);
}

TEST(Dataset, ImageFolderSource) {
  TempDir dir;
  for (int i = 0; i < 10; ++i)
    write_png(dir.path / ("img" + std::to_string(i) + ".png"),
              torch::full({3, 24, 36}, 20 * i, torch::kUInt8));
  DataConfig config;
  config.source = dir.path.string();
  auto data = load_dataset(config);
  EXPECT_EQ(data.image_size, 64);
  EXPECT_EQ(data.channels, 3);
  EXPECT_EQ(data.train.sizes(), (std::vector<int64_t>{8, 3, 64, 64}));
  EXPECT_EQ(data.validation.sizes(), (std::vector<int64_t>{2, 3, 64, 64}));
  EXPECT_FALSE(data.train_labels.has_value());
  config.image_size = 8;
  config.channels = 1;
  config.validation_fraction = 0;
  data = load_dataset(config);
  EXPECT_EQ(data.train.sizes(), (std::vector<int64_t>{10, 1, 8, 8}));
  EXPECT_EQ(data.validation.sizes(), (std::vector<int64_t>{0, 1, 8, 8}));
}

TEST(Dataset, BadSourceAndSizeAreReportedBeforeLoading) {
  DataConfig config;
  config.source = "/no/such/folder";
  auto missing = error_of<std::runtime_error>([&] { load_dataset(config); });
  EXPECT_TRUE(contains(missing, "/no/such/folder")) << missing;
  EXPECT_TRUE(contains(missing, "fashion-mnist")) << missing;
  config.image_size = 30;
  auto size = error_of<std::invalid_argument>([&] { load_dataset(config); });
  EXPECT_TRUE(contains(size, "data.image_size")) << size;
}

}  // namespace
}  // namespace ddpm

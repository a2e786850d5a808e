// Validation images for a model: resized and converted to the model, normalized with the model's
// statistics, picked deterministically; sizes the loader cannot make are errors.
#include "experiments/model_data.h"

#include "io/image.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

fs::path folder(const fs::path& root, int count) {
  torch::manual_seed(1);
  for (int i = 0; i < count; ++i)
    write_png(root / fmt::format("img{:02d}.png", i),
              torch::randint(0, 256, {3, 20, 20}, torch::kUInt8));
  return root;
}

RunConfig model_config(int64_t size, int64_t channels) {
  RunConfig c;
  c.model.sample_size = size;
  c.model.in_channels = channels;
  c.model.out_channels = channels;
  return c;
}

TEST(ModelData, FollowsTheModelsSizeChannelsAndNormalization) {
  test::TempDir dir;
  const auto root = folder(dir.path, 20);
  auto data = load_model_data(root.string(), model_config(16, 3), Codec());
  EXPECT_EQ(data.validation.sizes(), (std::vector<int64_t>{4, 3, 16, 16}));  // 20 % of 20
  auto gray = load_model_data(root.string(), model_config(8, 1), Codec());
  EXPECT_EQ(gray.validation.sizes(), (std::vector<int64_t>{4, 1, 8, 8}));
  // mean-std models use their own statistics, not the data's.
  auto c = model_config(16, 3);
  c.data.normalization = Normalization::mean_std;
  c.data.mean = {0.5, 0.5, 0.5};
  c.data.stddev = {0.25, 0.25, 0.25};
  auto ms = load_model_data(root.string(), c, Codec(dataset_normalization(c.data)));
  EXPECT_EQ(ms.codec.pixels().mean, c.data.mean);
  auto x = pick_images(ms, {0});
  auto expected = (ms.validation.slice(0, 0, 1).to(torch::kFloat32) / 255 - 0.5) / 0.25;
  EXPECT_TRUE(test::tensors_close(x, expected, 1e-6));
  EXPECT_THROW(load_model_data(root.string(), model_config(12, 3), Codec()), std::invalid_argument);
  EXPECT_THROW(load_model_data((dir.path / "nowhere").string(), model_config(16, 3), Codec()),
               std::runtime_error);
}

TEST(ModelData, PicksAreDeterministicAndDistinct) {
  auto a = pick_indices(100, 10, 3), b = pick_indices(100, 10, 3), c = pick_indices(100, 10, 4);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::sort(a.begin(), a.end());
  EXPECT_EQ(std::unique(a.begin(), a.end()), a.end());
  EXPECT_THROW(pick_indices(5, 6, 0), std::invalid_argument);
}

}  // namespace
}  // namespace ddpm

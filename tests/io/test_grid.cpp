// make_grid: output size, exact placement of every cell and the padding colour.
#include "io/grid.h"

#include <gtest/gtest.h>

namespace ddpm {
namespace {

/// Image i filled with the value 10 * (i + 1) in channel 0 and 10 * (i + 1) + 1 in channel 1.
torch::Tensor numbered(int64_t n, int64_t h, int64_t w) {
  auto images = torch::empty({n, 2, h, w}, torch::kUInt8);
  for (int64_t i = 0; i < n; ++i) {
    images[i][0].fill_(10 * (i + 1));
    images[i][1].fill_(10 * (i + 1) + 1);
  }
  return images;
}

TEST(Grid, PlacesCellsRowByRowWithPadding) {
  // 5 images of 3×4 in 3 columns, padding 1 → 2 rows: [2, 2*(3+1)+1, 3*(4+1)+1] = [2, 9, 16].
  const auto grid = make_grid(numbered(5, 3, 4), {/*columns=*/3, /*padding=*/1, /*pad_value=*/7});
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{2, 9, 16}));
  EXPECT_EQ(grid.scalar_type(), torch::kUInt8);

  auto expected = torch::full({2, 9, 16}, 7, torch::kUInt8);
  for (int64_t i = 0; i < 5; ++i) {
    const int64_t top = 1 + (i / 3) * 4, left = 1 + (i % 3) * 5;
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t y = top; y < top + 3; ++y)
        for (int64_t x = left; x < left + 4; ++x) expected[c][y][x] = 10 * (i + 1) + c;
  }
  EXPECT_TRUE(torch::equal(grid, expected)) << grid;
  EXPECT_EQ(grid[0][5][11].item<int>(), 7) << "the missing sixth cell stays padding";
}

TEST(Grid, FewerImagesThanColumnsMakeOneRow) {
  const auto grid = make_grid(numbered(2, 4, 4));  // defaults: 8 columns, padding 2, white
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{2, 4 + 4, 2 * 6 + 2}));
  EXPECT_EQ(grid[0][0][0].item<int>(), 255);
  EXPECT_EQ(grid[0][2][2].item<int>(), 10);
  EXPECT_EQ(grid[1][5][13 - 2].item<int>(), 21);
}

TEST(Grid, ZeroPaddingTilesExactly) {
  const auto images = torch::randint(0, 256, {4, 3, 5, 5}, torch::kUInt8);
  const auto grid = make_grid(images, {2, 0, 0});
  // [C, 2·5, 2·5] equals the 2×2 block matrix of the images.
  const auto rows =
      torch::cat({torch::cat({images[0], images[1]}, 2), torch::cat({images[2], images[3]}, 2)}, 1);
  EXPECT_TRUE(torch::equal(grid, rows));
}

TEST(Grid, RejectsWrongInput) {
  EXPECT_THROW(make_grid(torch::zeros({2, 3, 4, 4})), std::invalid_argument);
  EXPECT_THROW(make_grid(torch::zeros({3, 4, 4}, torch::kUInt8)), std::invalid_argument);
  EXPECT_THROW(make_grid(torch::zeros({0, 3, 4, 4}, torch::kUInt8)), std::invalid_argument);
  EXPECT_THROW(make_grid(torch::zeros({1, 3, 4, 4}, torch::kUInt8), {0, 2, 255}),
               std::invalid_argument);
  try {
    make_grid(torch::zeros({2, 3, 4, 4}));
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("Float [2, 3, 4, 4]"), std::string::npos) << e.what();
  }
}

}  // namespace
TEST(Grid, LabelledRowsGetTheirNamesDrawnLeftOfThem) {
  auto images = torch::full({4, 3, 16, 16}, 128, torch::kUInt8);
  GridOptions o;
  o.columns = 2;
  auto plain = make_grid(images, o);
  auto labelled = make_labelled_grid(images, {"Sneaker", "Bag"}, o);
  EXPECT_EQ(labelled.size(1), plain.size(1));
  EXPECT_GT(labelled.size(2), plain.size(2)) << "a margin for the names";
  const int64_t margin = labelled.size(2) - plain.size(2);
  EXPECT_TRUE(labelled.slice(2, margin).equal(plain)) << "the grid itself unchanged";
  // Ink (black on white) in the margin beside each row, nowhere else in the margin's padding.
  auto ink = labelled.slice(2, 0, margin).eq(0);  // [3, H', margin]
  const int64_t row = 16 + 2;
  EXPECT_GT(ink.slice(1, 2, 2 + 16).sum().item<int64_t>(), 0) << "first row named";
  EXPECT_GT(ink.slice(1, 2 + row, 2 + row + 16).sum().item<int64_t>(), 0) << "second row named";
  EXPECT_THROW(make_labelled_grid(images, {"one"}, o), std::invalid_argument) << "2 rows, 1 name";
}

}  // namespace ddpm

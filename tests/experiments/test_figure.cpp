// Figures: the grid code's size, empty cells in the pad colour, the JSON beside the PNG.
#include "experiments/figure.h"

#include <fstream>

#include "io/image.h"
#include "test_util.h"

namespace ddpm {
namespace {

TEST(Figure, IsAMakeGridOfTheTilesWithEmptyCellsInThePadColour) {
  auto tiles = torch::zeros({2, 3, 1, 4, 5});  // 2 rows × 3 columns of 4×5 images, value 0
  tiles[1][2] = empty_cell(tiles);
  auto image = figure_image(tiles, Codec());
  // make_grid: rows·(H + 2) + 2 by columns·(W + 2) + 2.
  EXPECT_EQ(image.sizes(), (std::vector<int64_t>{1, 2 * 6 + 2, 3 * 7 + 2}));
  EXPECT_EQ(image[0][2][2].item<uint8_t>(), 128);  // 0 in [-1, 1] → 127.5 → 128
  const int64_t top = 2 + 6, left = 2 + 2 * 7;
  EXPECT_TRUE((image[0].slice(0, top, top + 4).slice(1, left, left + 5) == 255).all().item<bool>());
}

TEST(Figure, GridTilesPadsTheLastRow) {
  auto images = torch::ones({5, 3, 2, 2});
  auto tiles = grid_tiles(images, 3);
  EXPECT_EQ(tiles.sizes(), (std::vector<int64_t>{2, 3, 3, 2, 2}));
  EXPECT_TRUE(tiles[1][2].isnan().all().item<bool>());
  EXPECT_EQ(square_grid_columns(16), 4);
  EXPECT_EQ(square_grid_columns(5), 3);
  EXPECT_EQ(square_grid_columns(1), 1);
}

TEST(Figure, WritesThePngAndItsJson) {
  test::TempDir dir;
  const auto png = dir.path / "sub" / "fig.png";
  auto image = figure_image(torch::zeros({1, 2, 3, 4, 4}), Codec());
  write_figure(png, image, {{"seed", 3}});
  EXPECT_TRUE(torch::equal(read_image(png), image));
  EXPECT_EQ(figure_json_path(png), dir.path / "sub" / "fig.json");
  auto json = nlohmann::json::parse(std::ifstream(dir.path / "sub" / "fig.json"));
  EXPECT_EQ(json["seed"], 3);
}

}  // namespace
}  // namespace ddpm

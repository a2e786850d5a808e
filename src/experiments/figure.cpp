#include "experiments/figure.h"

#include "io/atomic_file.h"
#include "io/image.h"

namespace ddpm {

namespace fs = std::filesystem;

torch::Tensor figure_image(const torch::Tensor& tiles, const Codec& codec,
                           const GridOptions& grid) {
  if (!tiles.defined() || tiles.dim() != 5 || tiles.size(0) < 1 || tiles.size(1) < 1)
    throw std::invalid_argument(
        "figure_image: expected tiles [R, K, C, H, W] with R, K >= 1, found " +
        (tiles.defined() ? c10::str(tiles.sizes()) : std::string("none")));
  const int64_t rows = tiles.size(0), cols = tiles.size(1);
  auto flat = tiles.detach().to(torch::kCPU, torch::kFloat32).flatten(0, 1);  // [R·K, C, H, W]
  // A cell is empty when any value is NaN (an autoencoder's decode mixes positions).
  auto empty = flat.isnan().flatten(1).any(1);  // [R·K]
  auto images = codec.to_uint8(flat.nan_to_num(0.0));
  images.index_put_({empty}, grid.pad_value);
  GridOptions options = grid;
  options.columns = cols;
  (void)rows;
  return make_grid(images, options);
}

torch::Tensor empty_cell(const torch::Tensor& like) {
  TORCH_CHECK(like.dim() >= 3, "empty_cell: expected an image [..., C, H, W], got ", like.sizes());
  return torch::full({like.size(-3), like.size(-2), like.size(-1)},
                     std::numeric_limits<float>::quiet_NaN(),
                     like.options().dtype(torch::kFloat32));
}

torch::Tensor grid_tiles(const torch::Tensor& images, int64_t columns) {
  TORCH_CHECK(images.dim() == 4 && images.size(0) >= 1 && columns >= 1,
              "grid_tiles: expected images [N, C, H, W] with N >= 1 and columns >= 1, got ",
              images.sizes(), " and ", columns);
  const int64_t n = images.size(0), rows = (n + columns - 1) / columns;
  auto cells = images.detach().to(torch::kCPU, torch::kFloat32);
  if (rows * columns > n) {
    auto blank = empty_cell(cells).unsqueeze(0).expand({rows * columns - n, -1, -1, -1});
    cells = torch::cat({cells, blank});
  }
  return cells.view({rows, columns, cells.size(1), cells.size(2), cells.size(3)});
}

int64_t square_grid_columns(int64_t count) {
  return std::max<int64_t>(1, int64_t(std::ceil(std::sqrt(double(count)))));
}

fs::path figure_json_path(const fs::path& png) {
  fs::path json = png;
  json.replace_extension(".json");
  return json;
}

void write_figure(const fs::path& png, const torch::Tensor& image, const nlohmann::json& numbers) {
  if (png.has_parent_path()) fs::create_directories(png.parent_path());
  // The parameters chunk: the figure's settings (its numbers without the long arrays).
  // (Never the file's own name or path: the same request writes the same bytes anywhere.)
  nlohmann::json parameters{{"command", "figure"}};
  if (numbers.is_object())
    for (const auto& [key, value] : numbers.items())
      if (!value.is_array() && value.dump().size() < 2000 && key != "figure" && key != "out" &&
          key.find("seconds") == std::string::npos)
        parameters[key] = value;
  write_png(png, image, png_parameters(parameters));
  write_file_atomic(figure_json_path(png), numbers.dump(2) + "\n");
}

}  // namespace ddpm

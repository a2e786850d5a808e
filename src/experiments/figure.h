// A figure of the study: a table of images drawn with io/grid's make_grid (one grid code for the
// trainer's periodic samples, `ddpm sample` and every figure), written as FILE.png beside
// FILE.json, which holds the settings and the numbers behind the picture.
//
//   auto tiles = torch::stack({row0, row1});                 // [R, K, C, H, W], model space
//   auto image = figure_image(tiles, loaded.codec);          // uint8 [C, H', W'], K columns
//   write_figure("traj.png", image, {{"seed", 0}});          // traj.png + traj.json
#pragma once
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "io/grid.h"
#include "runs/codec.h"

namespace ddpm {

/// tiles [R, K, C, H, W] (model space, any float dtype and device; NaN marks an empty cell, drawn
/// in the grid's pad colour), decoded by `codec` → uint8 [C', R·(H'+p)+p, K·(W'+p)+p] with
/// make_grid(columns = K).
torch::Tensor figure_image(const torch::Tensor& tiles, const Codec& codec,
                           const GridOptions& grid = {});

/// An empty cell shaped like one image of `like` ([C, H, W] or [..., C, H, W]): all NaN.
torch::Tensor empty_cell(const torch::Tensor& like);

/// images [N, C, H, W] laid out `columns` per row: [⌈N/columns⌉, columns, C, H, W], the last row
/// padded with empty cells.
torch::Tensor grid_tiles(const torch::Tensor& images, int64_t columns);

/// ⌈√N⌉ columns, as `ddpm sample` lays out its grids.
int64_t square_grid_columns(int64_t count);

/// FILE.png → FILE.json.
std::filesystem::path figure_json_path(const std::filesystem::path& png);

/// Writes `image` (uint8 [C, H, W]) as `png` and `numbers` (pretty JSON) beside it, both
/// atomically; creates the parent folder.
void write_figure(const std::filesystem::path& png, const torch::Tensor& image,
                  const nlohmann::json& numbers);

}  // namespace ddpm

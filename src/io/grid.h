// Image grids: many uint8 images [N, C, H, W] tiled into one picture [C, H', W'].
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace ddpm {

struct GridOptions {
  int64_t columns = 8;      ///< images per row (rows follow from N)
  int64_t padding = 2;      ///< pixels between cells and around the border
  uint8_t pad_value = 255;  ///< white separators, as people print grids
};

torch::Tensor make_grid(const torch::Tensor& images, const GridOptions& options = {});
/// make_grid with a name left of each row (black text on pad_value, io/text.h), e.g. one class
/// per row. row_labels.size() must equal the grid's rows; text_scale 0 picks one from the cell
/// height (1 below 32 px cells).
torch::Tensor make_labelled_grid(const torch::Tensor& images,
                                 const std::vector<std::string>& row_labels,
                                 const GridOptions& options = {}, int64_t text_scale = 0);

}  // namespace ddpm

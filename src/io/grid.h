// Image grids: many uint8 images [N, C, H, W] tiled into one picture [C, H', W'].
#pragma once
#include <torch/torch.h>

namespace ddpm {

struct GridOptions {
  int64_t columns = 8;      ///< images per row (rows follow from N)
  int64_t padding = 2;      ///< pixels between cells and around the border
  uint8_t pad_value = 255;  ///< white separators, as people print grids
};

torch::Tensor make_grid(const torch::Tensor& images, const GridOptions& options = {});

}  // namespace ddpm

// Image grids in the layout of torchvision.utils.make_grid: cells of H×W separated and framed by
// `padding` pixels of `pad_value`, filled row by row.
#include "io/grid.h"

#include <stdexcept>

namespace ddpm {

torch::Tensor make_grid(const torch::Tensor& images, const GridOptions& options) {
  if (!images.defined() || images.scalar_type() != torch::kUInt8 || images.dim() != 4)
    throw std::invalid_argument(
        "make_grid: expected uint8 images [N, C, H, W], found " +
        (images.defined()
             ? std::string(c10::toString(images.scalar_type())) + " " + c10::str(images.sizes())
             : std::string("an undefined tensor")));
  if (images.size(0) < 1)
    throw std::invalid_argument("make_grid: expected at least one image, found N = 0");
  if (options.columns < 1 || options.padding < 0)
    throw std::invalid_argument("make_grid: expected columns >= 1 and padding >= 0, found " +
                                std::to_string(options.columns) + " and " +
                                std::to_string(options.padding));
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const int64_t pad = options.padding;
  const int64_t cols = std::min(options.columns, n), rows = (n + cols - 1) / cols;
  torch::Tensor grid = torch::full({c, rows * (h + pad) + pad, cols * (w + pad) + pad},
                                   options.pad_value, images.options());  // [C, H', W']
  for (int64_t i = 0; i < n; ++i) {
    const int64_t top = pad + (i / cols) * (h + pad), left = pad + (i % cols) * (w + pad);
    grid.slice(1, top, top + h).slice(2, left, left + w).copy_(images[i]);  // [C, H, W]
  }
  return grid;
}

}  // namespace ddpm

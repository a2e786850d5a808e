// Image grids in the layout of torchvision.utils.make_grid: cells of H×W separated and framed by
// `padding` pixels of `pad_value`, filled row by row.
#include "io/grid.h"

#include <algorithm>
#include <stdexcept>

#include "io/text.h"

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

torch::Tensor make_labelled_grid(const torch::Tensor& images,
                                 const std::vector<std::string>& row_labels,
                                 const GridOptions& options, int64_t text_scale) {
  auto grid = make_grid(images, options);  // checks images and options   [C, H', W']
  const int64_t n = images.size(0), h = images.size(2), pad = options.padding;
  const int64_t cols = std::min(options.columns, n), rows = (n + cols - 1) / cols;
  if (int64_t(row_labels.size()) != rows)
    throw std::invalid_argument("make_labelled_grid: " + std::to_string(row_labels.size()) +
                                " row labels for " + std::to_string(rows) + " rows");
  const int64_t scale = text_scale > 0 ? text_scale : std::max<int64_t>(1, h / 32);
  int64_t width = 0;
  for (const auto& label : row_labels) width = std::max(width, measure_text(label, scale).width);
  const int64_t margin = width + 2 * pad + 2 * scale;
  auto out = torch::full({grid.size(0), grid.size(1), grid.size(2) + margin}, options.pad_value,
                         grid.options());  // [C, H', margin + W']
  out.slice(2, margin).copy_(grid);
  const uint8_t ink = options.pad_value > 127 ? 0 : 255;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t top = pad + r * (h + pad) + (h - measure_text(row_labels[r], scale).height) / 2;
    const int64_t left = pad + scale;
    for (const auto& q : text_rectangles(row_labels[r], scale))
      out.slice(1, std::max<int64_t>(0, top + q.y0), std::min(out.size(1), top + q.y1))
          .slice(2, left + q.x0, left + q.x1)
          .fill_(ink);
  }
  return out;
}

}  // namespace ddpm

// IDX files (the MNIST / Fashion-MNIST container), plain or gzip-compressed.
//
// Format (LeCun et al., http://yann.lecun.com/exdb/mnist/, "FILE FORMATS FOR THE MNIST
// DATABASE"): a big-endian 32-bit magic 0x0000TTDD (TT = 0x08 for unsigned bytes, DD = the number
// of dimensions), DD big-endian 32-bit sizes, then the data in row-major order. Images are
// 0x00000803 [N, rows, cols], labels 0x00000801 [N].
//
//   auto images = read_idx_images("train-images-idx3-ubyte.gz");  // uint8 [60000, 28, 28]
//   auto labels = read_idx_labels("train-labels-idx1-ubyte.gz");  // uint8 [60000]
#pragma once
#include <torch/torch.h>

#include <filesystem>

namespace ddpm {

/// An unsigned-byte IDX file of any rank (1 to 4) as a uint8 tensor with the file's sizes. Reads
/// gzip or plain files alike (zlib's gzread passes plain files through). Throws
/// std::runtime_error naming the file when it cannot be read, the magic is not 0x000008DD, a size
/// is zero, or the data is shorter or longer than the sizes say.
torch::Tensor read_idx(const std::filesystem::path& path);

/// read_idx, requiring magic 0x00000803: uint8 [N, rows, cols].
torch::Tensor read_idx_images(const std::filesystem::path& path);

/// read_idx, requiring magic 0x00000801: uint8 [N].
torch::Tensor read_idx_labels(const std::filesystem::path& path);

}  // namespace ddpm

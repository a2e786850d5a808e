// Test helpers that write IDX files (gzip via zlib, or plain) and a synthetic Fashion-MNIST folder.
#pragma once
#include <torch/torch.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ddpm::test {

inline std::string idx_bytes(uint32_t magic, const std::vector<uint32_t>& sizes,
                             const std::string& data) {
  std::string out;
  auto put = [&](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out += char((v >> shift) & 0xff);
  };
  put(magic);
  for (auto s : sizes) put(s);
  return out + data;
}

inline void write_bytes(const std::filesystem::path& path, const std::string& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.string().c_str(), "wb");
    if (!f) throw std::runtime_error("cannot write " + path.string());
    if (!bytes.empty()) gzwrite(f, bytes.data(), unsigned(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary) << bytes;
  }
}

/// The bytes of a uint8 tensor, row-major.
inline std::string tensor_bytes(const torch::Tensor& t) {
  auto c = t.contiguous();
  return std::string(reinterpret_cast<const char*>(c.data_ptr<uint8_t>()), size_t(c.numel()));
}

/// Writes `images` (uint8 [N, 28, 28]) and `labels` (uint8 [N]) as IDX .gz files.
inline void write_idx_pair(const std::filesystem::path& dir, const std::string& prefix,
                           const torch::Tensor& images, const torch::Tensor& labels) {
  write_bytes(
      dir / (prefix + "-images-idx3-ubyte.gz"),
      idx_bytes(0x803,
                {uint32_t(images.size(0)), uint32_t(images.size(1)), uint32_t(images.size(2))},
                tensor_bytes(images)),
      true);
  write_bytes(dir / (prefix + "-labels-idx1-ubyte.gz"),
              idx_bytes(0x801, {uint32_t(labels.size(0))}, tensor_bytes(labels)), true);
}

/// A Fashion-MNIST look-alike: 5 training and 3 test images of random pixels, labels i mod 10.
struct SyntheticFashionMnist {
  torch::Tensor train_images, train_labels, test_images, test_labels;
  explicit SyntheticFashionMnist(const std::filesystem::path& dir) {
    auto g = at::detail::createCPUGenerator(7);
    train_images = torch::randint(0, 256, {5, 28, 28}, g, torch::kUInt8);
    test_images = torch::randint(0, 256, {3, 28, 28}, g, torch::kUInt8);
    train_labels = torch::tensor({0, 1, 2, 3, 9}, torch::kUInt8);
    test_labels = torch::tensor({4, 5, 6}, torch::kUInt8);
    std::filesystem::create_directories(dir);
    write_idx_pair(dir, "train", train_images, train_labels);
    write_idx_pair(dir, "t10k", test_images, test_labels);
  }
};

}  // namespace ddpm::test

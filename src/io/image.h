// Image files ↔ uint8 tensors [C, H, W] (C = 1 grayscale or 3 RGB), via stb_image.
#pragma once
#include <torch/torch.h>

#include <filesystem>

namespace ddpm {

/// Decodes PNG or JPEG. channels: 1 or 3 converts; 0 keeps the file's own (gray → 1, else 3;
/// alpha is dropped). Throws std::runtime_error naming the file when it cannot be decoded.
torch::Tensor read_image(const std::filesystem::path& path, int channels = 0);

/// Writes a uint8 [C, H, W] (C = 1 or 3) tensor as PNG, atomically.
void write_png(const std::filesystem::path& path, const torch::Tensor& image);

/// PNG bytes of a uint8 [C, H, W] image (for embedding or tests).
std::string encode_png(const torch::Tensor& image);

}  // namespace ddpm

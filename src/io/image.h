// Image files ↔ uint8 tensors [C, H, W] (C = 1 grayscale or 3 RGB): PNG via stb_image, JPEG via
// libjpeg; PNG written by stb_image_write.
#pragma once
#include <torch/torch.h>

#include <filesystem>

#include "io/png_text.h"

namespace ddpm {

/// Images larger than this many pixels (8192 × 8192, 64 Mpx: 192 MiB as RGB) are refused from
/// the header, before any pixel memory is allocated: a 100-byte file may claim 60000 × 60000.
inline constexpr int64_t kMaxImagePixels = int64_t(8192) * 8192;

/// Decodes PNG or JPEG. channels: 1 or 3 converts; 0 keeps the file's own (gray → 1, else 3).
/// Transparency is composited onto white (c·α + 255·(1 − α)). Throws std::runtime_error naming the
/// file when it cannot be decoded, is not PNG or JPEG, or its header claims more than
/// kMaxImagePixels pixels.
torch::Tensor read_image(const std::filesystem::path& path, int channels = 0);

/// read_image on bytes already in memory; `name` is used in messages. `max_pixels` bounds the
/// size the header may claim (kMaxImagePixels unless a caller wants a tighter bound).
torch::Tensor decode_image(const std::string& bytes, const std::string& name, int channels = 0,
                           int64_t max_pixels = kMaxImagePixels);

/// Writes a uint8 [C, H, W] (C = 1 or 3) tensor as PNG, atomically, with `text` as tEXt chunks
/// (io/png_text.h; ddpm's writers put a "parameters" chunk saying how the image was made).
void write_png(const std::filesystem::path& path, const torch::Tensor& image,
               const PngText& text = {});

/// PNG bytes of a uint8 [C, H, W] image (for embedding or tests), with `text` as tEXt chunks.
std::string encode_png(const torch::Tensor& image, const PngText& text = {});

}  // namespace ddpm

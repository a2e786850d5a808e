// Image files ↔ uint8 [C, H, W] tensors through stb_image / stb_image_write (nothings/stb), linked
// from Debian's compiled libstb rather than compiled here from the single-file headers.
#include "io/image.h"

#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include "io/atomic_file.h"

namespace ddpm {

namespace {

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open for reading");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(path.string() + ": read failed");
  return bytes;
}

/// [H, W, C] contiguous CPU copy of a validated uint8 [C, H, W] image with C in {1, 3}.
torch::Tensor to_hwc(const torch::Tensor& image) {
  if (!image.defined() || image.scalar_type() != torch::kUInt8 || image.dim() != 3 ||
      (image.size(0) != 1 && image.size(0) != 3) || image.size(1) < 1 || image.size(2) < 1)
    throw std::invalid_argument(
        "encode_png: expected a uint8 [C, H, W] image with C = 1 or 3, found " +
        (image.defined()
             ? std::string(c10::toString(image.scalar_type())) + " " + c10::str(image.sizes())
             : std::string("an undefined tensor")));
  return image.detach().to(torch::kCPU).permute({1, 2, 0}).contiguous();
}

void append(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
}

}  // namespace

torch::Tensor read_image(const std::filesystem::path& path, int channels) {
  if (channels != 0 && channels != 1 && channels != 3)
    throw std::invalid_argument("read_image: channels must be 0 (as stored), 1 or 3, found " +
                                std::to_string(channels));
  const std::string bytes = read_bytes(path);
  if (bytes.size() > size_t(INT32_MAX))
    throw std::runtime_error(path.string() + ": file of " + std::to_string(bytes.size()) +
                             " bytes is too large to decode");
  const auto* buffer = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int length = int(bytes.size());
  int width = 0, height = 0, stored = 0;
  if (!stbi_info_from_memory(buffer, length, &width, &height, &stored))
    throw std::runtime_error(path.string() + ": cannot decode image: " + stbi_failure_reason());
  const int wanted = channels != 0 ? channels : (stored <= 2 ? 1 : 3);  // alpha dropped

  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(buffer, length, &width, &height, &stored, wanted), stbi_image_free);
  if (!pixels)
    throw std::runtime_error(path.string() + ": cannot decode image: " + stbi_failure_reason());
  return torch::from_blob(pixels.get(), {height, width, wanted}, torch::kUInt8)  // [H, W, C]
      .permute({2, 0, 1})
      .clone(at::MemoryFormat::Contiguous);  // [C, H, W], owning its memory
}

std::string encode_png(const torch::Tensor& image) {
  const torch::Tensor hwc = to_hwc(image);  // [H, W, C]
  const int height = int(hwc.size(0)), width = int(hwc.size(1)), comp = int(hwc.size(2));
  std::string png;
  if (!stbi_write_png_to_func(append, &png, width, height, comp, hwc.data_ptr(), width * comp))
    throw std::runtime_error("encode_png: stb_image_write failed for a " + c10::str(image.sizes()) +
                             " image");
  return png;
}

void write_png(const std::filesystem::path& path, const torch::Tensor& image) {
  std::string png;
  try {
    png = encode_png(image);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(path.string() + ": " + e.what());
  }
  write_file_atomic(path, png);
}

}  // namespace ddpm

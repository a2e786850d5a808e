// Image files ↔ uint8 [C, H, W] tensors through stb_image / stb_image_write (nothings/stb), linked
// from Debian's compiled libstb rather than compiled here from the single-file headers.
#include "io/image.h"

#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

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

/// Width and height as the header states them, read without decoding: PNG's IHDR, which must be
/// the first chunk (PNG spec 5.6: width and height at bytes 16 and 20), or JPEG's SOFn frame
/// header (ITU T.81 B.2.2: Y and X after the marker, its length and P), found by walking the
/// markers before it. {0, 0} when the header cannot be read this way (stb_image decides then).
std::pair<int64_t, int64_t> claimed_size(const std::string& bytes) {
  auto u8 = [&](size_t at) { return int64_t(static_cast<unsigned char>(bytes[at])); };
  auto be16 = [&](size_t at) { return u8(at) << 8 | u8(at + 1); };
  auto be32 = [&](size_t at) { return be16(at) << 16 | be16(at + 2); };
  if (bytes[0] == '\x89') {
    if (bytes.size() >= 24 && bytes.compare(12, 4, "IHDR") == 0) return {be32(16), be32(20)};
    return {0, 0};
  }
  size_t at = 2;  // after SOI
  while (at + 4 <= bytes.size()) {
    if (u8(at) != 0xff) {  // padding between segments, skipped as stb_image does
      ++at;
      continue;
    }
    const int64_t marker = u8(at + 1);
    if (marker == 0xff) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {  // no length field
      at += 2;
      continue;
    }
    const bool frame =
        marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
    if (frame) {
      if (at + 9 > bytes.size()) return {0, 0};
      return {be16(at + 7), be16(at + 5)};  // X (width), Y (height)
    }
    if (marker == 0xd9 || marker == 0xda) return {0, 0};  // end of image or scan before a frame
    at += 2 + size_t(be16(at + 2));
  }
  return {0, 0};
}

/// Refuses a JPEG whose DHT segment defines a Huffman table of more than 256 codes (ITU T.81
/// B.2.4.2: the 16 counts L_i sum to at most 256 symbols). stb_image 2.27, Debian 12's libstb,
/// does not check the sum and stbi__build_huffman writes past its 257-entry size list; 2.28 added
/// the check ("bad DHT header"). Found by fuzz/image_fuzzer. Walks every marker segment, skipping
/// the entropy-coded data after each SOS up to the next marker other than RSTn or a stuffed 00,
/// and bytes between segments (stb_image's stbi__decode_jpeg_header skips them too).
void check_jpeg_huffman_tables(const std::string& bytes, const std::string& name) {
  const size_t n = bytes.size();
  // Past the end reads as 0, as stb_image's stbi__get8 does.
  auto u8 = [&](size_t at) { return at < n ? static_cast<unsigned char>(bytes[at]) : 0u; };
  size_t at = 2;  // after SOI
  while (at + 4 <= n) {
    if (u8(at) != 0xff) {  // padding between segments: stb_image skips it, so do we
      ++at;
      continue;
    }
    const unsigned marker = u8(at + 1);
    if (marker == 0xff) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0xd9) return;  // EOI
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2;
      continue;
    }
    const size_t end = at + 2 + (size_t(u8(at + 2)) << 8 | u8(at + 3));
    if (marker == 0xc4) {
      // As stbi__process_marker reads it: a table starts wherever bytes of the segment remain,
      // and its 16 counts are read (and the table built) even past the segment's end.
      for (size_t table = at + 4; table < end && table < n;) {
        size_t codes = 0;
        for (size_t i = 1; i <= 16; ++i) codes += u8(table + i);
        if (codes > 256)
          throw std::runtime_error(name +
                                   ": cannot decode image: corrupt JPEG: a Huffman table "
                                   "(DHT) defines " +
                                   std::to_string(codes) + " codes, at most 256 are allowed");
        // The canonical codes of each length must fit in that many bits, all-ones excluded
        // (T.81 C.2; libjpeg's jdhuff.c "Bogus Huffman table definition"). An over-subscribed
        // table makes stb_image 2.27's stbi__jpeg_huff_decode index values[] at a negative
        // symbol id (2.28 checks it). Found by fuzz/image_fuzzer.
        uint64_t code = 0;
        for (size_t length = 1; length <= 16; ++length) {
          code += u8(table + length);
          if (code >= (uint64_t(1) << length))
            throw std::runtime_error(
                name + ": cannot decode image: corrupt JPEG: a Huffman table (DHT) has more " +
                "codes of at most " + std::to_string(length) + " bits than fit in " +
                std::to_string(length) + " bits");
          code <<= 1;
        }
        table += 17 + codes;
      }
    }
    if (end < at + 4 || end > n) return;  // a broken length: stb_image stops there too
    at = end;
    if (marker == 0xda)  // entropy-coded data up to the next marker
      while (at + 1 < n &&
             !(u8(at) == 0xff && u8(at + 1) != 0 && !(u8(at + 1) >= 0xd0 && u8(at + 1) <= 0xd7)))
        ++at;
  }
}

/// stb_image's message for the last failure (never empty, whatever the build's options).
std::string stb_reason() {
  const char* reason = stbi_failure_reason();
  // Some of stb_image's failure paths (a truncated PNG among them) set no reason.
  return reason && *reason ? reason : "corrupt or truncated image data";
}

void append(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
}

}  // namespace

torch::Tensor read_image(const std::filesystem::path& path, int channels) {
  if (channels != 0 && channels != 1 && channels != 3)
    throw std::invalid_argument("read_image: channels must be 0 (as stored), 1 or 3, found " +
                                std::to_string(channels));
  return decode_image(read_bytes(path), path.string(), channels);
}

torch::Tensor decode_image(const std::string& bytes, const std::string& name, int channels,
                           int64_t max_pixels) {
  if (channels != 0 && channels != 1 && channels != 3)
    throw std::invalid_argument("decode_image: channels must be 0 (as stored), 1 or 3, found " +
                                std::to_string(channels));
  if (bytes.empty()) throw std::runtime_error(name + ": cannot decode image: the file is empty");
  if (bytes.size() > size_t(INT32_MAX))
    throw std::runtime_error(name + ": file of " + std::to_string(bytes.size()) +
                             " bytes is too large to decode");
  // Only PNG (its 8-byte signature, PNG spec 5.2) and JPEG (SOI marker FF D8, then a marker):
  // stb_image also decodes GIF, PSD, HDR, PIC, PNM, BMP and TGA, which no caller wants.
  static const std::string kPng("\x89PNG\r\n\x1a\n", 8), kJpeg("\xff\xd8\xff", 3);
  if (bytes.compare(0, kPng.size(), kPng) != 0 && bytes.compare(0, kJpeg.size(), kJpeg) != 0)
    throw std::runtime_error(name +
                             ": cannot decode image: not a PNG or JPEG file (expected the "
                             "signature 89 50 4E 47 0D 0A 1A 0A or FF D8 FF)");
  // The header's size, checked before stb_image allocates width × height × channels bytes.
  // Sizes below 2^32 each: the product fits in uint64_t, the comparison avoids forming it.
  const auto check_size = [&](int64_t width, int64_t height) {
    if (width > 0 && height > 0 && (width > max_pixels || height > max_pixels / width))
      throw std::runtime_error(
          name + ": cannot decode image: header claims " + std::to_string(width) + "x" +
          std::to_string(height) + " = " + std::to_string(uint64_t(width) * uint64_t(height)) +
          " pixels, over the limit of " + std::to_string(max_pixels) + " (kMaxImagePixels)");
  };
  const auto [claimed_width, claimed_height] = claimed_size(bytes);
  check_size(claimed_width, claimed_height);
  if (bytes[0] == '\xff') check_jpeg_huffman_tables(bytes, name);
  const auto* buffer = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int length = int(bytes.size());
  int width = 0, height = 0, stored = 0;
  if (!stbi_info_from_memory(buffer, length, &width, &height, &stored))
    throw std::runtime_error(name + ": cannot decode image: " + stb_reason());
  if (width < 1 || height < 1)
    throw std::runtime_error(name + ": cannot decode image: header claims " +
                             std::to_string(width) + "x" + std::to_string(height) + " pixels");
  check_size(width, height);
  const int wanted = channels != 0 ? channels : (stored <= 2 ? 1 : 3);  // alpha dropped

  int decoded_width = 0, decoded_height = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(buffer, length, &decoded_width, &decoded_height, &stored, wanted),
      stbi_image_free);
  if (!pixels) throw std::runtime_error(name + ": cannot decode image: " + stb_reason());
  if (decoded_width != width || decoded_height != height)
    throw std::runtime_error(name + ": cannot decode image: header says " + std::to_string(width) +
                             "x" + std::to_string(height) + ", the decoder found " +
                             std::to_string(decoded_width) + "x" + std::to_string(decoded_height));
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

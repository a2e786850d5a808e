#include "io/png_text.h"

#include <zlib.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

#include "core/version.h"

namespace ddpm {

namespace {

constexpr char kSignature[] = "\x89PNG\r\n\x1a\n";
constexpr size_t kSignatureSize = 8;

uint32_t read_be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

void append_be32(std::string& s, uint32_t v) {
  s += char(v >> 24);
  s += char((v >> 16) & 0xff);
  s += char((v >> 8) & 0xff);
  s += char(v & 0xff);
}

std::string chunk(const std::string& type, const std::string& data) {
  std::string c;
  append_be32(c, uint32_t(data.size()));
  const std::string body = type + data;
  c += body;
  append_be32(c,
              uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()))));
  return c;
}

bool is_png(const std::string& png) {
  return png.size() >= kSignatureSize &&
         png.compare(0, kSignatureSize, kSignature, kSignatureSize) == 0;
}

}  // namespace

std::string add_png_text(const std::string& png, const PngText& entries) {
  // Signature, then IHDR: length 13, "IHDR", 13 bytes, CRC = 8 + 25 bytes.
  constexpr size_t kIhdrEnd = kSignatureSize + 8 + 13 + 4;
  if (!is_png(png) || png.size() < kIhdrEnd || png.compare(kSignatureSize + 4, 4, "IHDR") != 0 ||
      read_be32(png, kSignatureSize) != 13)
    throw std::runtime_error("add_png_text: not a PNG starting with IHDR");
  std::string chunks;
  for (const auto& [keyword, text] : entries) {
    if (keyword.empty() || keyword.size() > 79 || keyword.find('\0') != std::string::npos)
      throw std::invalid_argument("PNG tEXt keyword must be 1-79 bytes without NUL, got '" +
                                  keyword + "'");
    if (text.find('\0') != std::string::npos)
      throw std::invalid_argument("PNG tEXt '" + keyword + "' holds a NUL byte");
    chunks += chunk("tEXt", keyword + '\0' + text);
  }
  return png.substr(0, kIhdrEnd) + chunks + png.substr(kIhdrEnd);
}

PngText read_png_text(const std::string& png, const std::string& name) {
  if (!is_png(png)) throw std::runtime_error(name + ": not a PNG file (no PNG signature)");
  PngText text;
  size_t at = kSignatureSize;
  while (at + 12 <= png.size()) {
    const uint64_t length = read_be32(png, at);
    const std::string type = png.substr(at + 4, 4);
    if (at + 12 + length > png.size())
      throw std::runtime_error(name + ": PNG chunk '" + type + "' at byte " + std::to_string(at) +
                               " claims " + std::to_string(length) +
                               " bytes, past the end of the file (" + std::to_string(png.size()) +
                               " bytes)");
    if (type == "tEXt") {
      const std::string data = png.substr(at + 8, size_t(length));
      const auto nul = data.find('\0');
      if (nul == std::string::npos || nul == 0 || nul > 79)
        throw std::runtime_error(name + ": malformed tEXt chunk at byte " + std::to_string(at));
      text.emplace_back(data.substr(0, nul), data.substr(nul + 1));
    }
    if (type == "IEND") return text;
    at += 12 + size_t(length);
  }
  throw std::runtime_error(name + ": PNG ends without IEND (truncated)");
}

PngText png_parameters(nlohmann::json parameters) {
  parameters["ddpm"] = kVersion;
  return {{"parameters", parameters.dump(-1, ' ', /*ensure_ascii=*/true)}};
}

PngText read_png_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return read_png_text(bytes, path.string());
}

}  // namespace ddpm

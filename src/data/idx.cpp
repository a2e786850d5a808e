#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ddpm {

namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// IDX files this project reads are at most a few hundred MB; a header claiming more is corrupt.
constexpr int64_t kMaxIdxBytes = int64_t(1) << 32;

// zlib's message, less the "path: " it puts in front (our messages name the file already).
std::string gz_error(gzFile_s* file, const std::string& name) {
  int code = 0;
  const char* message = gzerror(file, &code);
  std::string text = message && *message ? message : "read error";
  if (text.rfind(name + ": ", 0) == 0) text.erase(0, name.size() + 2);
  return text;
}

// Reads exactly `size` bytes, or fewer at end of file; throws on a decompression error.
int64_t read_bytes(gzFile_s* file, void* out, int64_t size, const std::string& name) {
  auto* p = static_cast<unsigned char*>(out);
  int64_t done = 0;
  while (done < size) {
    const auto chunk = unsigned(std::min<int64_t>(size - done, int64_t(1) << 30));
    const int got = gzread(file, p + done, chunk);
    if (got < 0) throw std::runtime_error(name + ": cannot decompress: " + gz_error(file, name));
    if (got == 0) break;
    done += got;
  }
  // A short read is either the end of the file or a damaged gzip stream ("unexpected end of
  // file" for a cut-off one); only the latter sets an error.
  int code = Z_OK;
  gzerror(file, &code);
  if (done < size && code != Z_OK)
    throw std::runtime_error(name + ": cannot decompress: " + gz_error(file, name));
  return done;
}

uint32_t big_endian(const std::array<unsigned char, 4>& b) {
  return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
}

torch::Tensor read_idx_with_magic(const std::filesystem::path& path, uint32_t expected,
                                  const char* what) {
  auto data = read_idx(path);
  if (data.dim() != int64_t(expected & 0xff))
    throw std::runtime_error(path.string() + ": expected an IDX " + what +
                             " file (magic 0x0000080" + std::to_string(expected & 0xff) +
                             "), found one with " + std::to_string(data.dim()) + " dimension(s)");
  return data;
}

}  // namespace

torch::Tensor read_idx(const std::filesystem::path& path) {
  const std::string name = path.string();
  if (!std::filesystem::is_regular_file(path)) throw std::runtime_error(name + ": no such file");
  GzFile file(gzopen(name.c_str(), "rb"));
  if (!file) throw std::runtime_error(name + ": cannot open");

  std::array<unsigned char, 4> word{};
  if (read_bytes(file.get(), word.data(), 4, name) != 4)
    throw std::runtime_error(name + ": expected an IDX header, found fewer than 4 bytes");
  const uint32_t magic = big_endian(word);
  const uint32_t rank = magic & 0xff;
  if ((magic >> 8) != 0x08 || rank < 1 || rank > 4) {
    char found[16];
    std::snprintf(found, sizeof found, "0x%08x", magic);
    throw std::runtime_error(name +
                             ": expected IDX magic 0x000008DD (unsigned bytes, 1 to 4 "
                             "dimensions), found " +
                             found);
  }

  std::vector<int64_t> sizes;
  int64_t total = 1;
  for (uint32_t d = 0; d < rank; ++d) {
    if (read_bytes(file.get(), word.data(), 4, name) != 4)
      throw std::runtime_error(name + ": header ends before size " + std::to_string(d + 1) +
                               " of " + std::to_string(rank));
    const int64_t size = big_endian(word);
    if (size == 0) throw std::runtime_error(name + ": size " + std::to_string(d + 1) + " is zero");
    // Checked before multiplying: two 32-bit sizes overflow int64_t (found by fuzz/idx_fuzzer).
    if (size > kMaxIdxBytes / total)
      throw std::runtime_error(name + ": header claims more than 4 GiB of data (corrupt sizes?)");
    total *= size;
    sizes.push_back(size);
  }

  // The buffer grows with the bytes actually read (doubling from 1 MiB), never to the size the
  // header claims up front: a 16-byte file claiming 4 GiB costs at most 2 MiB before it fails.
  auto buffer = std::make_unique<std::vector<uint8_t>>();
  int64_t got = 0;
  while (got < total) {
    const int64_t want =
        std::min(total, std::max<int64_t>(int64_t(1) << 20, int64_t(buffer->size()) * 2));
    buffer->resize(size_t(want));
    const int64_t n = read_bytes(file.get(), buffer->data() + got, want - got, name);
    got += n;
    if (got < want) break;  // end of the data
  }
  if (got != total)
    throw std::runtime_error(name + ": truncated: the header promises " + std::to_string(total) +
                             " data bytes, found " + std::to_string(got));
  unsigned char extra = 0;
  if (read_bytes(file.get(), &extra, 1, name) != 0)
    throw std::runtime_error(name + ": found data after the " + std::to_string(total) +
                             " bytes the header promises");
  auto out = torch::from_blob(
      buffer->data(), sizes, [bytes = buffer.get()](void*) { delete bytes; }, torch::kUInt8);
  buffer.release();  // owned by `out` now
  return out;
}

torch::Tensor read_idx_images(const std::filesystem::path& path) {
  return read_idx_with_magic(path, 0x00000803, "image");
}

torch::Tensor read_idx_labels(const std::filesystem::path& path) {
  return read_idx_with_magic(path, 0x00000801, "label");
}

}  // namespace ddpm

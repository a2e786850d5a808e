#include "io/content_hash.h"

#include <fmt/format.h>

#include <fstream>
#include <stdexcept>
#include <vector>

namespace ddpm {

uint64_t fnv1a(std::string_view bytes, uint64_t h) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string file_fnv1a_hex(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot read");
  std::vector<char> block(1 << 20);
  uint64_t h = fnv1a({});
  while (in) {
    in.read(block.data(), std::streamsize(block.size()));
    h = fnv1a(std::string_view(block.data(), size_t(in.gcount())), h);
  }
  if (in.bad()) throw std::runtime_error(path.string() + ": read error");
  return fmt::format("{:016x}", h);
}

}  // namespace ddpm

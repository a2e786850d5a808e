// libFuzzer target: read_idx (src/data/idx.cpp) on arbitrary file contents, plain or gzip.
// Accepted files give a uint8 tensor of rank 1 to 4 whose element count the file could hold.
#include "data/idx.h"
#include "fuzz_util.h"

using namespace ddpm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = fuzz::scratch_path(".idx");
  fuzz::write_scratch(path, data, size);
  fuzz::expect_clean([&] {
    const auto t = read_idx(path);
    fuzz::check(t.scalar_type() == torch::kUInt8 && t.dim() >= 1 && t.dim() <= 4,
                "uint8 tensor of rank 1 to 4");
    // A plain file holds its data after the header; a gzip one at most 1032× its size (deflate's
    // best ratio).
    fuzz::check(uint64_t(t.numel()) + 4 + 4 * uint64_t(t.dim()) <= uint64_t(size) * 1032,
                "element count bounded by the file");
    fuzz::check(t.sum().item<int64_t>() >= 0, "the data is readable");
  });
  return 0;
}

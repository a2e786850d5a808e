// libFuzzer target: read_safetensors (src/io/safetensors.cpp) on arbitrary file contents.
// Accepted files must survive a round trip: written back with write_safetensors and read again,
// every tensor has the same dtype, shape and bytes, and the metadata is the same.
#include <cstring>

#include "fuzz_util.h"
#include "io/safetensors.h"

using namespace ddpm;

namespace {

bool same_bytes(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const auto ca = a.contiguous(), cb = b.contiguous();
  return a.numel() == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = fuzz::scratch_path(".safetensors");
  fuzz::write_scratch(path, data, size);
  SafetensorsFile file;
  try {
    file = read_safetensors(path);
  } catch (const std::exception&) {
    return 0;  // rejected: the expected outcome for most inputs
  }
  size_t total = 0;
  for (const auto& [name, t] : file.tensors) {
    fuzz::check(t.is_contiguous() && t.device().is_cpu(), "tensor is contiguous and on the CPU");
    total += t.nbytes();
  }
  fuzz::check(total <= size, "the tensors' bytes fit in the file");
  const std::string& copy = fuzz::scratch_path(".copy.safetensors");
  write_safetensors(copy, file.tensors, file.metadata);  // must not throw for what we accepted
  const SafetensorsFile back = read_safetensors(copy);
  fuzz::check(back.metadata == file.metadata, "metadata round-trips");
  fuzz::check(back.tensors.size() == file.tensors.size(), "tensor count round-trips");
  for (const auto& [name, t] : file.tensors)
    fuzz::check(back.tensors.count(name) && same_bytes(back.tensors.at(name), t),
                "tensor round-trips");
  return 0;
}

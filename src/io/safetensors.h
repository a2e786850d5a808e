// safetensors reader and writer (https://github.com/huggingface/safetensors, format section):
// 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
// optional "__metadata__" (string → string), then the raw little-endian tensor bytes.
//
//   auto file = read_safetensors("model.safetensors");     // validates everything, maps
//   torch::Tensor w = file.tensors.at("conv_in.weight");
//   write_safetensors("out.safetensors", file.tensors, {{"format", "pt"}});
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>

namespace ddpm {

/// Tensors by name (ordered, so files written from it are byte-stable).
using TensorMap = std::map<std::string, torch::Tensor>;

struct SafetensorsFile {
  /// CPU tensors viewing one private copy-on-write mapping of the file (kept alive by them; a
  /// write to a tensor stays in this process). Replacing the file by rename, as every writer
  /// here does, leaves them intact; truncating it in place while they live is not supported.
  TensorMap tensors;
  std::map<std::string, std::string> metadata;  ///< the "__metadata__" entries
};

/// Reads and validates a whole file: header length within the file, known dtype, offsets in
/// bounds, contiguous and non-overlapping, byte sizes matching shapes. Throws std::runtime_error
/// naming the file and the problem. Supports F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL.
SafetensorsFile read_safetensors(const std::filesystem::path& path);

/// Writes tensors (any device; made contiguous on the CPU) atomically: to a temporary file in
/// the same folder, flushed, then renamed over `path`.
void write_safetensors(const std::filesystem::path& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace ddpm

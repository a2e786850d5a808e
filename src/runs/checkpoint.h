// Checkpoint folders: model.safetensors (online weights and buffers), ema.safetensors (the EMA
// copy), optimizer.safetensors (AdamW moments) and state.json (step, RNG and loader state).
//
// Writes are atomic at the folder level: everything goes to <name>.tmp/, each file fsynced, then
// <name>/ is renamed to <name>.old/, <name>.tmp/ to <name>/, and <name>.old/ removed. A kill at
// any moment leaves either the old or the new folder complete; read_checkpoint falls back to
// <name>.old/ when a kill landed between the two renames.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>

#include "io/safetensors.h"

namespace ddpm {

struct Checkpoint {
  TensorMap model;
  TensorMap ema;
  TensorMap optimizer;  ///< may be empty (exported or inference-only checkpoints)
  nlohmann::json state = nlohmann::json::object();  ///< at least {"step": N}
};

/// Writes `checkpoint` as the folder `dir` (e.g. run/checkpoints/latest), atomically. When a
/// write fails, throws naming the file and the OS error, with `dir` untouched and <name>.tmp/
/// removed.
void write_checkpoint(const std::filesystem::path& dir, const Checkpoint& checkpoint);

/// Reads the folder `dir` (or its .old twin, see above). `with_optimizer` false skips the
/// optimizer file. Throws naming the folder and the missing or corrupt file.
Checkpoint read_checkpoint(const std::filesystem::path& dir, bool with_optimizer = true);

/// True when `dir` (or its .old twin) holds a complete checkpoint.
bool checkpoint_exists(const std::filesystem::path& dir);

/// The complete folder read_checkpoint would read: `dir`, or its .old twin after a kill between
/// the two renames. Throws std::runtime_error when neither is complete.
std::filesystem::path complete_checkpoint_dir(const std::filesystem::path& dir);

}  // namespace ddpm

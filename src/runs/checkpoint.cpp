#include "runs/checkpoint.h"

#include <fstream>

#include "io/atomic_file.h"

namespace ddpm {

namespace fs = std::filesystem;

namespace {

fs::path sibling(const fs::path& dir, const std::string& suffix) {
  auto clean = dir;
  if (!clean.has_filename()) clean = clean.parent_path();
  return clean.parent_path() / (clean.filename().string() + suffix);
}

bool complete(const fs::path& dir) {
  return fs::is_regular_file(dir / "state.json") && fs::is_regular_file(dir / "model.safetensors");
}

}  // namespace

void write_checkpoint(const fs::path& dir, const Checkpoint& c) {
  const fs::path tmp = sibling(dir, ".tmp"), old = sibling(dir, ".old");
  fs::create_directories(tmp.parent_path());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    write_safetensors(tmp / "model.safetensors", c.model);
    if (!c.ema.empty()) write_safetensors(tmp / "ema.safetensors", c.ema);
    if (!c.optimizer.empty()) write_safetensors(tmp / "optimizer.safetensors", c.optimizer);
    write_file_atomic(tmp / "state.json", c.state.dump(2) + "\n");  // last: marks completeness
    sync_directory(tmp);
  } catch (const std::exception& e) {
    // A failed write (ENOSPC, EFBIG, EIO) leaves `dir` as it was and no half-written folder.
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    throw std::runtime_error(dir.string() +
                             ": checkpoint not written (any previous one is kept): " + e.what());
  }

  if (fs::exists(dir)) {
    fs::remove_all(old);
    fs::rename(dir, old);
  }
  fs::rename(tmp, dir);
  sync_directory(fs::absolute(tmp).parent_path());
  fs::remove_all(old);
}

bool checkpoint_exists(const fs::path& dir) {
  return complete(dir) || complete(sibling(dir, ".old"));
}

fs::path complete_checkpoint_dir(const fs::path& dir) {
  if (complete(dir)) return dir;
  if (complete(sibling(dir, ".old"))) return sibling(dir, ".old");
  throw std::runtime_error(dir.string() +
                           ": not a checkpoint folder (expected state.json and model.safetensors)");
}

Checkpoint read_checkpoint(const fs::path& requested, bool with_optimizer) {
  const fs::path dir = complete_checkpoint_dir(requested);
  Checkpoint c;
  std::ifstream state_file(dir / "state.json");
  try {
    c.state = nlohmann::json::parse(state_file);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error((dir / "state.json").string() + ": " + e.what());
  }
  c.model = read_safetensors(dir / "model.safetensors").tensors;
  if (fs::exists(dir / "ema.safetensors"))
    c.ema = read_safetensors(dir / "ema.safetensors").tensors;
  if (with_optimizer && fs::exists(dir / "optimizer.safetensors"))
    c.optimizer = read_safetensors(dir / "optimizer.safetensors").tensors;
  return c;
}

}  // namespace ddpm

// The autotune's decisions kept in a file, per machine: the ddpm program's Conv3x3TuningStore
// (models/conv3x3.h). Without it every process measures afresh, and a layer shape whose
// algorithms are nearly tied may go either way from one run to the next, so that the same seed
// gives an image one 1/255 step apart in a few pixels. With it the first process on a machine
// measures, and every later one takes the same decisions.
//
// The file is JSON: {"machines": {MACHINE: {SHAPE: ALGORITHM}}}, MACHINE naming the CPU model,
// the Winograd kernels' instruction set and revision and the thread count
// (conv3x3_tuning_machine), so that a home directory shared between machines, or one machine run
// with other thread counts, keeps the decisions apart. A new decision is written at once
// (atomically, merged with what other processes wrote meanwhile, under an exclusive lock on the
// sibling FILE.lock so that no process's decision is lost to another's write); when another
// process decided the shape meanwhile, its decision stands and is the one returned, so that
// processes started together (tests run in parallel) still decide every shape alike. A file that
// cannot be read is treated as empty, one that cannot be written (or locked) leaves the decisions
// in the process only: it is a cache.
//
//   set_conv3x3_tuning_store(std::make_shared<Conv3x3TuningFile>(default_conv3x3_tuning_file()));
#pragma once
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "models/conv3x3.h"

namespace ddpm {

/// $DDPM_CACHE_DIR/conv3x3-tuning.json, else $XDG_CACHE_HOME/ddpm/…, else $HOME/.cache/ddpm/…;
/// empty when none of them is set.
std::filesystem::path default_conv3x3_tuning_file();

/// This machine as the file names it, e.g. "AMD EPYC | avx512 | kernels 3 | 2 threads".
std::string conv3x3_tuning_machine();

class Conv3x3TuningFile : public Conv3x3TuningStore {
 public:
  explicit Conv3x3TuningFile(std::filesystem::path file);
  std::optional<Conv3x3Algorithm> find(const std::string& shape) override;
  Conv3x3Algorithm record(const std::string& shape, Conv3x3Algorithm algorithm) override;

  /// Whether the last write failed (the decisions stay in the process).
  bool write_failed() const { return write_failed_; }

 private:
  std::filesystem::path file_;
  std::mutex mutex_;
  bool write_failed_ = false;
};

}  // namespace ddpm

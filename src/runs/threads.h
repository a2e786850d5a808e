// CPU thread count for LibTorch's intra-op parallelism.
#pragma once
#include <cstdint>

namespace ddpm {

// threads > 0: use exactly that many. threads == 0: every core, unless the user has set
// OMP_NUM_THREADS (then LibTorch's own choice stands). LibTorch 1.13 as packaged may start with one
// thread, which leaves most of the machine idle. Returns the count in effect.
int64_t configure_cpu_threads(int64_t threads);

}  // namespace ddpm

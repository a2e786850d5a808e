#include "runs/cpu_allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <climits>

namespace ddpm {

void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);  // glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit)
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}

}  // namespace ddpm

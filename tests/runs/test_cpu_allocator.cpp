// Keeping freed memory for reuse: a large block freed and allocated again comes back without a
// page fault per page (under glibc's defaults the second allocation grows the heap onto fresh
// pages and faults on each of its 4096).
#include "runs/cpu_allocator.h"

#include <sys/resource.h>

#include <cstdlib>

#include "test_util.h"

namespace ddpm {
namespace {

long minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

TEST(CpuAllocator, AFreedLargeBlockIsReusedWithoutPageFaults) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer replaces malloc; mallopt does not apply";
#endif
  keep_freed_memory_for_reuse();
  constexpr size_t kBytes = size_t(16) << 20;  // 4096 pages
  // One write per page through a volatile pointer (GCC drops a malloc/memset/free it can see
  // through).
  auto touch = [](unsigned char value) {
    auto* p = static_cast<volatile unsigned char*>(std::malloc(kBytes));
    ASSERT_NE(p, nullptr);
    for (size_t i = 0; i < kBytes; i += 4096) p[i] = value;
    std::free(const_cast<unsigned char*>(p));
  };
  touch(1);
  const long before = minor_faults();
  touch(2);
  EXPECT_LT(minor_faults() - before, 256) << "the freed 16 MiB came back as fresh pages";
}

}  // namespace
}  // namespace ddpm

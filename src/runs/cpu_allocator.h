// How the process's allocator treats large freed blocks. glibc's default returns a freed block of
// more than 128 KiB (a dynamic threshold, at most 32 MiB) to the kernel, and returns the top of
// its heap whenever more than twice that is free there. The next tensor of that size then starts
// on fresh pages, and each 4 KiB page costs a page fault at first touch. A network's forward
// allocates and frees the same few sizes at every layer, so that is tens of thousands of faults a
// step, and each one is dear in a virtual machine. Keeping freed blocks for reuse (up to 32 MiB a
// block, with no trimming) is what PyTorch's GPU caching allocator and jemalloc do. Measured with
// `ddpm bench` in five alternating pairs on the 2-core development VM: ddpm-cifar10 training went
// 8.7 / 8.5 / 7.1 / 6.0 / 8.6 → 9.1 / 9.5 / 9.0 / 9.2 / 8.8 img/s, sampling and fashion-mnist
// within the noise. Peak memory was unchanged (1.73–1.80 GiB either way).
#pragma once

namespace ddpm {

/// The same settings as a GLIBC_TUNABLES value, for a child process (the bench's peer).
inline constexpr const char* kKeepFreedMemoryTunables =
    "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=2147483647";

/// Sets them for this process (glibc's mallopt; nothing elsewhere). Call once at startup.
void keep_freed_memory_for_reuse();

}  // namespace ddpm

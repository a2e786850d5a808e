// Dropout's mask from a counter-based generator, on raw float32 buffers: element i of a call is
// kept when the i-th 32-bit output of Philox4x32-10 (Salmon et al., "Parallel random numbers: as
// easy as 1, 2, 3", SC 2011; the generator of PyTorch's CUDA dropout) under the call's 64-bit key
// is below (1 − p)·2³², and then scaled by 1 / (1 − p). The mask is a pure function of (key, i):
// any thread count gives the same one, and the backward pass recomputes it from the key instead
// of keeping it (no N-byte mask per layer in training memory).
//
// Compiled for AVX-512, AVX2 and baseline x86-64 (target clones), with OpenMP over blocks.
#pragma once
#include <array>
#include <cstdint>

namespace ddpm::kernels {

/// One Philox4x32-10 block: 10 rounds of the counter under the key (Random123's philox4x32_R
/// with R = 10: the key is bumped by the Weyl constants before every round but the first).
std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

/// out[i] = in[i] · (kept(i) ? 1 / (1 − p) : 0) for i < n, with counter i / 4 (low and high
/// 32 bits in words 0 and 1), word i % 4 of its block; p in [0, 1). in may equal out.
void philox_dropout(const float* in, float* out, int64_t n, uint64_t key, double p);

}  // namespace ddpm::kernels

// The global gradient norm's two passes over every parameter's gradient (training/gradients.cpp),
// each one loop over all the buffers: LibTorch needs a norm per gradient, a stack, a norm and, to
// clip, a mul_ per gradient (fashion-mnist: 225 gradients, ~450 dispatches a step). No LibTorch
// here, so that the loops compile vectorised and with OpenMP (see adamw_kernel.h).
#pragma once
#include <cstdint>
#include <vector>

namespace ddpm::kernels {

/// A float32 buffer of `size` elements.
struct FloatBuffer {
  float* data;
  int64_t size;
};

/// Σ x² over every element of every buffer, accumulated in double (NaN or inf when any element
/// is), the same whatever the thread count. OpenMP threads take slices of the buffers.
double sum_of_squares(const std::vector<FloatBuffer>& buffers);

/// x ← x · factor for every element of every buffer.
void scale_buffers(const std::vector<FloatBuffer>& buffers, float factor);

}  // namespace ddpm::kernels

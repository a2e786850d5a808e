#include "training/kernels/gradient_norm_kernel.h"

#include <algorithm>

namespace ddpm::kernels {

namespace {

/// Work items: slices of at most this many elements of one buffer, so that one large gradient
/// does not leave the other threads idle.
constexpr int64_t kSlice = 32768;

struct Slice {
  float* data;
  int64_t size;
};

std::vector<Slice> slices_of(const std::vector<FloatBuffer>& buffers) {
  std::vector<Slice> slices;
  for (const auto& b : buffers)
    for (int64_t i = 0; i < b.size; i += kSlice)
      slices.push_back({b.data + i, std::min(kSlice, b.size - i)});
  return slices;
}

}  // namespace

double sum_of_squares(const std::vector<FloatBuffer>& buffers) {
  const auto slices = slices_of(buffers);
  const int64_t count = int64_t(slices.size());
  // Each slice's sum, then those in order: the same result whatever the threads.
  std::vector<double> sums(slices.size());
#pragma omp parallel for schedule(dynamic, 4) if (count > 4)
  for (int64_t s = 0; s < count; ++s) {
    const float* x = slices[size_t(s)].data;
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < slices[size_t(s)].size; ++i) sum += double(x[i]) * double(x[i]);
    sums[size_t(s)] = sum;
  }
  double total = 0.0;
  for (const double sum : sums) total += sum;
  return total;
}

void scale_buffers(const std::vector<FloatBuffer>& buffers, float factor) {
  const auto slices = slices_of(buffers);
  const int64_t count = int64_t(slices.size());
#pragma omp parallel for schedule(dynamic, 4) if (count > 4)
  for (int64_t s = 0; s < count; ++s) {
    float* x = slices[size_t(s)].data;
#pragma omp simd
    for (int64_t i = 0; i < slices[size_t(s)].size; ++i) x[i] *= factor;
  }
}

}  // namespace ddpm::kernels

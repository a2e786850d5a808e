// Single-precision matrix products on the CPU by the GEMM micro-kernel of micro_gemm.h, for
// operands as they lie in the UNet's tensors (no packing but the last rows' padding):
//
//   C[m, n] = Σ_k A[m, k] · B[k, n] (+ bias[m]),  A[m, k] = a[m·a_row + k·a_col] (either layout
//   of a matrix), B[k, n] = b[k·ldb + n], C[m, n] = c[m·ldc + n],
//
// for `batch` products at fixed strides apart, n a multiple of 8. B may come in two parts, its
// first k rows from b and the next k2 from b2 (a concatenation along the inner dimension that is
// never made: the 1×1 convolution of a skip connection, pointwise_conv_kernel.h). Why:
// LibTorch 1.13 hands its products to Debian's OpenBLAS, whose kernels for this CPU are the AVX2
// ones (sgemm_kernel_HASWELL at 138 GFLOP/s in ddpm-cifar10's attention), while the micro-kernel
// runs AVX-512 (the pointwise convolutions of the same run: 337 GFLOP/s). OpenMP over (product, row
// group, column panel).
#pragma once
#include <cstdint>

namespace ddpm::kernels {

struct StridedGemm {
  int64_t batch, m, n, k;
  const float* a;
  int64_t a_batch, a_row, a_col;
  const float* b;
  int64_t b_batch, ldb;
  float* c;
  int64_t c_batch, ldc;
  /// B's rows k .. k + k2 − 1, at b2[(q − k)·ldb + n], b2_batch apart (A has k + k2 columns).
  const float* b2 = nullptr;
  int64_t b2_batch = 0, k2 = 0;
  /// Added to every entry of row m when not null.
  const float* row_bias = nullptr;
};

/// C = A · B (+ bias) for each of the g.batch products (overwrites C), the two parts of B summed
/// in order, first b's rows then b2's. Throws std::invalid_argument when n is not a multiple of 8.
void strided_gemm(const StridedGemm& g);

}  // namespace ddpm::kernels

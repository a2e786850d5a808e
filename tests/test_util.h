// Shared helpers for the test programs: fixture paths and llm.c-style tensor comparison that
// prints the gap on failure.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "io/safetensors.h"

namespace ddpm::test {

/// `path` when it exists; otherwise throws naming it, so a fixture missing from the checkout
/// fails the test with the file to restore instead of a parse error further on.
inline std::filesystem::path existing_fixture(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path))
    throw std::runtime_error("missing test fixture " + path.string() +
                             " (tests/fixtures/README.md says where each comes from)");
  return path;
}

/// A reference file produced by diffusers 0.21.4 (tests/fixtures/diffusers-0.21.4/).
inline std::filesystem::path fixture(const std::string& relative) {
  return existing_fixture(std::filesystem::path(DDPM_FIXTURES_DIR) / "diffusers-0.21.4" / relative);
}

/// Fixtures committed with the tests (tests/fixtures/), e.g. the generated diffusers folders.
inline std::filesystem::path repo_fixture(const std::string& relative) {
  return existing_fixture(std::filesystem::path(DDPM_SOURCE_DIR) / "tests" / "fixtures" / relative);
}

inline TensorMap load_fixture(const std::string& relative) {
  return read_safetensors(fixture(relative)).tensors;
}

/// max |a − b| / max(1, max |b|) ≤ tol, reporting the gap and where it is.
inline ::testing::AssertionResult tensors_close(const torch::Tensor& actual,
                                                const torch::Tensor& expected, double tol) {
  if (actual.sizes() != expected.sizes())
    return ::testing::AssertionFailure()
           << "shape " << actual.sizes() << " != expected " << expected.sizes();
  auto a = actual.to(torch::kCPU, torch::kFloat64), b = expected.to(torch::kCPU, torch::kFloat64);
  if (!a.isfinite().all().item<bool>()) return ::testing::AssertionFailure() << "non-finite values";
  const double scale = std::max(1.0, b.abs().max().item<double>());
  auto diff = (a - b).abs();
  const double gap = diff.max().item<double>() / scale;
  if (gap <= tol) return ::testing::AssertionSuccess() << "max rel gap " << gap;
  const int64_t at = diff.flatten().argmax().item<int64_t>();
  return ::testing::AssertionFailure()
         << "max |Δ|/max(1,|ref|) = " << gap << " > " << tol << " at flat index " << at
         << " (actual " << a.flatten()[at].item<double>() << ", expected "
         << b.flatten()[at].item<double>() << ")";
}

/// A fresh empty temporary directory, removed by the destructor.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("ddpm-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

}  // namespace ddpm::test

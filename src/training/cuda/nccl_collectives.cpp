// NCCL collectives for data-parallel training on CUDA (training/process_group.h). Compiled
// against a CUDA LibTorch (DDPM_WITH_NCCL), and compile-checked against the CUDA toolkit's
// nccl.h on CPU-only machines (target ddpm_nccl_path_check), as the CUDA-graph path is.
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include "training/backend_collectives.h"
#include "training/process_group.h"

namespace ddpm {

std::unique_ptr<Collectives> make_nccl_collectives(const c10::intrusive_ptr<c10d::Store>& store,
                                                   int rank, int size,
                                                   std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  auto backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options);
  return std::make_unique<BackendCollectives<c10d::ProcessGroupNCCL>>(backend, "nccl");
}

}  // namespace ddpm

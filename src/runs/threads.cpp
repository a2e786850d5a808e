#include "runs/threads.h"

#include <cstdlib>
#include <thread>

namespace ddpm {

int64_t configure_cpu_threads(int64_t threads) {
  if (threads > 0) {
    torch::set_num_threads(int(threads));
  } else if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    const unsigned cores = std::thread::hardware_concurrency();
    if (cores > 0) torch::set_num_threads(int(cores));
  }
  return torch::get_num_threads();
}

}  // namespace ddpm

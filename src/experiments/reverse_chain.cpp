#include "experiments/reverse_chain.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace ddpm {

std::vector<int64_t> chain_from(int64_t t_start, int64_t num_steps) {
  if (t_start < 0 || num_steps < 0)
    throw std::invalid_argument("chain_from: expected t_start >= 0 and num_steps >= 0, got " +
                                std::to_string(t_start) + " and " + std::to_string(num_steps));
  std::vector<int64_t> ts;
  if (num_steps == 0 || num_steps >= t_start + 1) {
    for (int64_t t = t_start; t >= 0; --t) ts.push_back(t);
    return ts;
  }
  if (num_steps == 1) return {t_start};
  for (int64_t i = 0; i < num_steps; ++i)
    ts.push_back(std::llround(double(t_start) * double(num_steps - 1 - i) / double(num_steps - 1)));
  ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
  return ts;
}

}  // namespace ddpm

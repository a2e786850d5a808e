#include "training/smoothing.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace ddpm {

std::vector<double> tensorboard_smooth(const std::vector<double>& values, double weight) {
  if (!(weight >= 0.0 && weight < 1.0))
    throw std::invalid_argument("smoothing weight must be in [0, 1), got " +
                                std::to_string(weight));
  bool constant = true;
  for (double v : values) constant = constant && v == values.front();
  if (constant) return values;
  std::vector<double> out;
  out.reserve(values.size());
  double last = 0.0;
  int64_t count = 0;
  for (double v : values) {
    if (!std::isfinite(v)) {
      out.push_back(v);
      continue;
    }
    last = last * weight + (1.0 - weight) * v;
    ++count;
    out.push_back(last / (1.0 - std::pow(weight, double(count))));
  }
  return out;
}

}  // namespace ddpm

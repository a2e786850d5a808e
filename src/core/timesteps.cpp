#include "core/timesteps.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace ddpm {

template <>
const EnumTable<TimestepSpacing>& enum_table<TimestepSpacing>() {
  static const EnumTable<TimestepSpacing> table{"timestep spacing",
                                                {{TimestepSpacing::leading, "leading"},
                                                 {TimestepSpacing::linspace, "linspace"},
                                                 {TimestepSpacing::trailing, "trailing"},
                                                 {TimestepSpacing::quadratic, "quadratic"},
                                                 {TimestepSpacing::uniform, "uniform"},
                                                 {TimestepSpacing::strided, "strided"}}};
  return table;
}

std::vector<int64_t> inference_timesteps(TimestepSpacing spacing, int64_t T, int64_t n,
                                         int64_t steps_offset) {
  if (n < 1 || n > T)
    throw std::invalid_argument("number of sampling steps must be in [1, " + std::to_string(T) +
                                "], got " + std::to_string(n));
  std::vector<int64_t> ts;
  switch (spacing) {
    case TimestepSpacing::leading: {
      const int64_t ratio = T / n;
      for (int64_t i = 0; i < n; ++i) ts.push_back(i * ratio + steps_offset);
      break;
    }
    case TimestepSpacing::linspace:
      // np.linspace(0, T − 1, n).round(); numpy rounds halves to even, as std::nearbyint does
      // in the default rounding mode (7 steps of 1000: …, 832, …, 166, 0, not 833 / 167).
      for (int64_t i = 0; i < n; ++i)
        ts.push_back(n == 1 ? 0
                            : int64_t(std::nearbyint(double(i) * double(T - 1) / double(n - 1))));
      break;
    case TimestepSpacing::trailing: {
      // np.round(np.arange(T, 0, −T/n)) − 1: arange's i-th value is T − i·(T/n), rounded half to
      // even (16 steps of 1000: 812.5 → 812 → 811).
      const double ratio = double(T) / double(n);
      for (int64_t i = 0; i < n; ++i)
        ts.push_back(int64_t(std::nearbyint(double(T) - double(i) * ratio)) - 1);
      break;
    }
    case TimestepSpacing::quadratic: {
      const double top = std::sqrt(double(T) * 0.8);
      for (int64_t i = 0; i < n; ++i) {
        const double v = n == 1 ? 0.0 : double(i) * top / double(n - 1);
        ts.push_back(int64_t(v * v));
      }
      ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
      break;
    }
    case TimestepSpacing::uniform:  // ermongroup/ddim runners/diffusion.py sample_image
      for (int64_t t = 0; t < T; t += T / n) ts.push_back(t);
      break;
    case TimestepSpacing::strided: {  // improved-diffusion respace.py space_timesteps("ddimN")
      for (int64_t k = 1; k < T && ts.empty(); ++k)
        if ((T + k - 1) / k == n)
          for (int64_t t = 0; t < T; t += k) ts.push_back(t);
      if (ts.empty() && n == T)  // stride 1 (space_timesteps searches k ≥ 1 up to T − 1 only)
        for (int64_t t = 0; t < T; ++t) ts.push_back(t);
      if (ts.empty())
        throw std::invalid_argument("cannot create exactly " + std::to_string(n) + " steps of " +
                                    std::to_string(T) +
                                    " with an integer stride (strided spacing, as improved-"
                                    "diffusion's space_timesteps)");
      break;
    }
  }
  std::sort(ts.begin(), ts.end(), std::greater<int64_t>());
  for (int64_t t : ts)
    if (t < 0 || t >= T)
      throw std::invalid_argument("timestep " + std::to_string(t) + " out of range [0, " +
                                  std::to_string(T) + "): lower steps_offset");
  return ts;
}

}  // namespace ddpm

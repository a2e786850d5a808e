#include "experiments/interpolate.h"

#include <cmath>
#include <sstream>

#include <fmt/format.h>

#include "core/forward_process.h"
#include "core/slerp.h"
#include "experiments/reverse_chain.h"
#include "samplers/noise_source.h"
#include "samplers/sampler_registry.h"

namespace ddpm {

template <>
const EnumTable<InterpolationMode>& enum_table<InterpolationMode>() {
  static const EnumTable<InterpolationMode> table{"interpolation mode",
                                                  {{InterpolationMode::xt, "xt"},
                                                   {InterpolationMode::slerp, "slerp"},
                                                   {InterpolationMode::inversion, "inversion"}}};
  return table;
}

namespace {

double parse_number(const std::string& part, const std::string& whole) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(part, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != part.size() || !std::isfinite(v))
    throw std::invalid_argument(fmt::format(
        "lambdas '{}': '{}' is not a number (expected start:stop:step like 0:1:0.1 or a list "
        "like 0,0.5,1)",
        whole, part));
  return v;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, sep)) parts.push_back(part);
  if (!text.empty() && text.back() == sep) parts.push_back("");
  return parts;
}

}  // namespace

std::vector<double> parse_lambdas(const std::string& text) {
  std::vector<double> out;
  if (text.find(':') != std::string::npos) {
    auto parts = split(text, ':');
    if (parts.size() != 3)
      throw std::invalid_argument(fmt::format(
          "lambdas '{}': a range is start:stop:step with three numbers, like 0:1:0.1", text));
    const double start = parse_number(parts[0], text), stop = parse_number(parts[1], text),
                 step = parse_number(parts[2], text);
    if (!(step > 0) || stop < start)
      throw std::invalid_argument(fmt::format(
          "lambdas '{}': expected start <= stop and step > 0 (found step {})", text, step));
    const auto count = int64_t(std::floor((stop - start) / step + 1e-9));
    if (count > 10000)
      throw std::invalid_argument(fmt::format("lambdas '{}': {} values is too many", text, count));
    for (int64_t i = 0; i <= count; ++i) out.push_back(start + double(i) * step);
    // Land exactly on stop when the steps reach it (0:1:0.1 ends on 1, not 0.9999999999999999).
    if (std::abs(out.back() - stop) < 1e-9) out.back() = stop;
  } else {
    for (const auto& part : split(text, ',')) out.push_back(parse_number(part, text));
  }
  if (out.empty()) throw std::invalid_argument("lambdas: no values given");
  for (double v : out)
    if (v < 0 || v > 1)
      throw std::invalid_argument(
          fmt::format("lambdas '{}': every λ must be in [0, 1], found {}", text, v));
  return out;
}

torch::Tensor interpolate_xt(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                             PredictionType prediction, const SamplingConfig& sampling,
                             const torch::Tensor& a, const torch::Tensor& b,
                             const std::vector<int64_t>& from_steps,
                             const std::vector<double>& lambdas, int64_t steps,
                             torch::Generator& generator, const InterpolateProgress& progress) {
  TORCH_CHECK(a.dim() == 4 && a.sizes() == b.sizes(),
              "interpolate_xt: expected two image batches [P, C, H, W] of one shape, got ",
              a.sizes(), " and ", b.sizes());
  TORCH_CHECK(!lambdas.empty(), "interpolate_xt: no lambdas");
  const int64_t T = schedule.num_train_timesteps;
  for (int64_t t : from_steps)
    if (t < 1 || t > T)
      throw std::invalid_argument(fmt::format(
          "diffusion step t = {} is outside 1..T = 1..{} (steps count from 1, as in the paper)", t,
          T));
  const int64_t pairs = a.size(0), L = int64_t(lambdas.size());
  auto lam = torch::tensor(lambdas, torch::kFloat64).to(a.options()).view({L, 1, 1, 1});
  std::vector<torch::Tensor> rows;
  int64_t part = 0;
  const int64_t parts = int64_t(from_steps.size()) * pairs;
  for (int64_t t : from_steps) {
    for (int64_t p = 0; p < pairs; ++p, ++part) {
      auto xa = a.slice(0, p, p + 1), xb = b.slice(0, p, p + 1);  // [1, C, H, W]
      auto eps = draw_noise(xa, generator);                       // shared by both images
      auto t_one =
          torch::full({1}, t - 1, torch::TensorOptions().dtype(torch::kLong)).to(a.device());
      auto xt_a = q_sample(schedule, xa, t_one, eps), xt_b = q_sample(schedule, xb, t_one, eps);
      auto mixed = (1 - lam) * xt_a + lam * xt_b;  // DDPM §4.3: x̄_t = (1 − λ) x_t + λ x_t′
      StepCallback on_step;
      if (progress) on_step = [&](const SamplerStep& s) { progress(part, parts, s); };
      // One noise draw per step shared by the L mixes, so rows differ only by λ.
      SamplerInputs inputs{denoise, schedule, prediction, shared_noise(generator), on_step};
      auto x = run_sampler(sampling.sampler, inputs, mixed, chain_from(t - 1, steps),
                           SamplerStart::sample);
      rows.push_back(x.detach().to(torch::kCPU, torch::kFloat32));  // [L, C, H, W]
    }
  }
  return torch::stack(rows);  // [R·P, L, C, H, W]
}

torch::Tensor interpolate_codes(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                                PredictionType prediction, const SamplingConfig& sampling,
                                const std::vector<int64_t>& timesteps, const torch::Tensor& code_a,
                                const torch::Tensor& code_b, const std::vector<double>& lambdas,
                                const InterpolateProgress& progress) {
  TORCH_CHECK(code_a.dim() == 4 && code_a.sizes() == code_b.sizes(),
              "interpolate_codes: expected two code batches [P, C, H, W] of one shape, got ",
              code_a.sizes(), " and ", code_b.sizes());
  TORCH_CHECK(!lambdas.empty(), "interpolate_codes: no lambdas");
  // DDIM §5.3: the deterministic process, so each code is one image.
  SamplerConfig ddim = switch_sampler(sampling.sampler, SamplerKind::ddim);
  ddim.eta = 0.0;
  std::vector<torch::Tensor> rows;
  const int64_t pairs = code_a.size(0);
  for (int64_t p = 0; p < pairs; ++p) {
    std::vector<torch::Tensor> mixes;
    for (double l : lambdas)
      mixes.push_back(slerp(code_a.slice(0, p, p + 1), code_b.slice(0, p, p + 1), l));
    StepCallback on_step;
    if (progress) on_step = [&](const SamplerStep& s) { progress(p, pairs, s); };
    SamplerInputs inputs{denoise, schedule, prediction, {}, on_step};
    auto x = run_sampler(ddim, inputs, torch::cat(mixes), timesteps);
    rows.push_back(x.detach().to(torch::kCPU, torch::kFloat32));  // [L, C, H, W]
  }
  return torch::stack(rows);  // [P, L, C, H, W]
}

torch::Tensor interpolation_tiles(const torch::Tensor& decoded, const torch::Tensor& left,
                                  const torch::Tensor& right) {
  TORCH_CHECK(decoded.dim() == 5, "interpolation_tiles: expected [rows, L, C, H, W], got ",
              decoded.sizes());
  std::vector<torch::Tensor> parts;
  auto cpu = [](const torch::Tensor& t) { return t.detach().to(torch::kCPU, torch::kFloat32); };
  if (left.defined()) parts.push_back(cpu(left).unsqueeze(1));
  parts.push_back(cpu(decoded));
  if (right.defined()) parts.push_back(cpu(right).unsqueeze(1));
  return torch::cat(parts, 1);
}

}  // namespace ddpm

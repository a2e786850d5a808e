#include "experiments/reconstruct.h"

#include <fmt/format.h>

#include "core/forward_process.h"
#include "experiments/figure.h"
#include "experiments/reverse_chain.h"
#include "samplers/noise_source.h"
#include "samplers/sampler_registry.h"

namespace ddpm {

Reconstruction reconstruct(const DenoiseFn& denoise, const NoiseSchedule& schedule,
                           PredictionType prediction, const SamplingConfig& sampling,
                           const torch::Tensor& x0, const Codec& codec,
                           const ReconstructRequest& request, torch::Generator& generator,
                           const ReconstructProgress& progress) {
  const int64_t T = schedule.num_train_timesteps;
  if (request.from_steps.empty()) throw std::invalid_argument("reconstruct: no start steps");
  for (int64_t t : request.from_steps)
    if (t < 1 || t > T)
      throw std::invalid_argument(
          fmt::format("start step {} is outside 1..T = 1..{} (steps count from 1, as in the "
                      "paper; T is the model's number of diffusion steps)",
                      t, T));
  if (request.per_image < 1)
    throw std::invalid_argument(
        fmt::format("draws per image must be >= 1, got {}", request.per_image));
  TORCH_CHECK(x0.dim() == 4, "reconstruct: expected images [N, C, H, W], got ", x0.sizes());
  const int64_t n = x0.size(0), k = request.per_image, rows = int64_t(request.from_steps.size());
  auto originals = codec.to_uint8(x0).to(torch::kFloat64);  // [N, C, H, W] pixels
  auto copies = x0.repeat_interleave(k, 0);                 // [N·K, C, H, W]

  Reconstruction out;
  std::vector<torch::Tensor> noisy, samples;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = request.from_steps[size_t(r)] - 1;  // schedule index
    auto eps = draw_noise(copies, generator);
    auto t_batch = torch::full({n * k}, t, torch::TensorOptions().dtype(torch::kLong));
    auto x_t = q_sample(schedule, copies, t_batch.to(copies.device()), eps);  // DDPM eq. (4)
    StepCallback on_step;
    if (progress) on_step = [&](const SamplerStep& s) { progress(r, rows, s); };
    SamplerInputs inputs{denoise, schedule, prediction, batch_noise(generator), on_step};
    auto x = run_sampler(sampling.sampler, inputs, x_t, chain_from(t, request.steps),
                         SamplerStart::sample);
    auto x_cpu = x.detach().to(torch::kCPU, torch::kFloat32);
    auto pixels = codec.to_uint8(x_cpu).to(torch::kFloat64);
    auto diff = (pixels - originals.repeat_interleave(k, 0)) / 255.0;
    out.mse.push_back(diff.pow(2).mean().item<double>());
    noisy.push_back(x_t.detach()
                        .to(torch::kCPU, torch::kFloat32)
                        .view({n, k, x0.size(1), x0.size(2), x0.size(3)})
                        .select(1, 0));
    samples.push_back(x_cpu.view({n, k, x0.size(1), x0.size(2), x0.size(3)}));
  }
  out.noisy = torch::stack(noisy);      // [R, N, C, H, W]
  out.samples = torch::stack(samples);  // [R, N, K, C, H, W]
  return out;
}

torch::Tensor reconstruction_tiles(const torch::Tensor& x0, const Reconstruction& rec) {
  const int64_t rows = rec.samples.size(0), n = rec.samples.size(1), k = rec.samples.size(2);
  auto originals = x0.detach().to(torch::kCPU, torch::kFloat32);
  auto blank = empty_cell(originals);
  std::vector<torch::Tensor> cells;
  for (int64_t i = 0; i < n; ++i) {
    cells.push_back(originals[i]);
    for (int64_t j = 0; j < k; ++j) cells.push_back(blank);
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) {
      cells.push_back(rec.noisy[r][i]);
      for (int64_t j = 0; j < k; ++j) cells.push_back(rec.samples[r][i][j]);
    }
  auto all = torch::stack(cells);  // [(1 + R)·N·(1 + K), C, H, W]
  return all.view({1 + rows, n * (1 + k), all.size(1), all.size(2), all.size(3)});
}

}  // namespace ddpm

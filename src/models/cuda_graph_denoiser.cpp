#include "models/cuda_graph_denoiser.h"

#include <map>
#include <memory>
#include <stdexcept>
#include <vector>

#include "models/denoiser.h"

#if DDPM_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace ddpm {

#if DDPM_WITH_CUDA

namespace {

// Warm-up passes before a capture: cuDNN picks its algorithms and the caching allocator fills
// its pools outside the graph (torch.cuda.graphs' "warm up on a side stream").
constexpr int kWarmupPasses = 3;

struct CapturedForward {
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  torch::Tensor x;       // static input  [B, C, H, W]
  torch::Tensor c;       // static conditioning [B]
  torch::Tensor labels;  // static class labels [B] int64 (class-conditional models)
  torch::Tensor out;     // static output [B, C', H, W] float32
};

struct GraphDenoiser {
  UNet model;
  NoiseSchedule schedule;
  Precision precision;
  torch::Device device;
  std::map<std::vector<int64_t>, CapturedForward> captures;  // by x_t's shape

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& c,
                        const torch::Tensor& labels) {
    // No weight-cast cache: a captured graph must not depend on tensors cached outside it.
    return autocast_forward(model, x, c, labels, precision, device, /*cache_casts=*/false);
  }

  CapturedForward capture(const torch::Tensor& x_t, const torch::Tensor& c,
                          const torch::Tensor& labels) {
    CapturedForward f;
    f.x = x_t.clone();
    f.c = c.clone();
    if (labels.defined()) f.labels = labels.clone();
    auto current = c10::cuda::getCurrentCUDAStream(device.index());
    auto side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index());
    at::cuda::CUDAEvent ready;
    ready.record(current);
    ready.block(side);
    {
      c10::cuda::CUDAStreamGuard on_side(side);
      for (int i = 0; i < kWarmupPasses; ++i) forward(f.x, f.c, f.labels);
      f.graph = std::make_unique<at::cuda::CUDAGraph>();
      f.graph->capture_begin();
      f.out = forward(f.x, f.c, f.labels);
      f.graph->capture_end();
    }
    at::cuda::CUDAEvent captured;
    captured.record(side);
    captured.block(current);
    return f;
  }

  torch::Tensor operator()(const torch::Tensor& x_t, const torch::Tensor& t,
                           const torch::Tensor& class_labels) {
    c10::InferenceMode inference;
    c10::cuda::CUDAGuard on_device(device);
    // Values are checked here, on the host: inside a capture the model cannot read them back.
    check_class_labels(model->config(), class_labels.defined() ? class_labels.cpu() : class_labels,
                       x_t.size(0));
    auto x = x_t.to(device, torch::kFloat32);
    auto c = conditioning_for(model->config(), schedule, t.to(device));  // [B] float32
    auto labels = class_labels.defined() ? class_labels.to(device, torch::kLong) : class_labels;
    const std::vector<int64_t> key(x.sizes().begin(), x.sizes().end());
    auto it = captures.find(key);
    if (it == captures.end()) it = captures.emplace(key, capture(x, c, labels)).first;
    auto& f = it->second;
    f.x.copy_(x);
    f.c.copy_(c);
    if (labels.defined()) f.labels.copy_(labels);
    f.graph->replay();
    return f.out.clone();
  }
};

}  // namespace

bool cuda_graphs_available() {
  return torch::cuda::is_available();
}

LabelledDenoiseFn make_cuda_graph_labelled_denoise_fn(UNet model, const NoiseSchedule& schedule,
                                                      Precision precision) {
  TORCH_CHECK(!model.is_empty(), "make_cuda_graph_denoise_fn: the model is null");
  TORCH_CHECK(schedule.alphas_cumprod.defined(),
              "make_cuda_graph_denoise_fn: the schedule is empty");
  const auto device = model->parameters().front().device();
  if (!device.is_cuda())
    throw std::invalid_argument("CUDA graphs need the model on a CUDA device, it is on " +
                                device.str() + " (use --device cuda, or leave CUDA graphs off)");
  check_precision(precision, device);
  auto state =
      std::make_shared<GraphDenoiser>(GraphDenoiser{model, schedule, precision, device, {}});
  return [state](const torch::Tensor& x_t, const torch::Tensor& t, const torch::Tensor& labels) {
    return (*state)(x_t, t, labels);
  };
}

#else  // a LibTorch without CUDA

bool cuda_graphs_available() {
  return false;
}

LabelledDenoiseFn make_cuda_graph_labelled_denoise_fn(UNet, const NoiseSchedule&, Precision) {
  throw std::invalid_argument(
      "CUDA graphs need a CUDA build: this ddpm links a LibTorch without CUDA (rebuild with "
      "CMAKE_PREFIX_PATH pointing at a CUDA-enabled LibTorch, or leave CUDA graphs off)");
}

#endif

DenoiseFn make_cuda_graph_denoise_fn(UNet model, const NoiseSchedule& schedule,
                                     Precision precision) {
  auto net = make_cuda_graph_labelled_denoise_fn(std::move(model), schedule, precision);
  return [net](const torch::Tensor& x_t, const torch::Tensor& t) { return net(x_t, t, {}); };
}

}  // namespace ddpm

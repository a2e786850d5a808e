#include "op_profile.h"

#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <map>

namespace ddpm::bench {

namespace {

bool contains(const std::string& s, const char* part) {
  return s.find(part) != std::string::npos;
}

std::vector<OpStats> sorted_by_self_time(const std::map<std::string, OpStats>& by_name) {
  std::vector<OpStats> out;
  for (const auto& [name, stats] : by_name) out.push_back(stats);
  std::sort(out.begin(), out.end(),
            [](const OpStats& a, const OpStats& b) { return a.self_ms > b.self_ms; });
  return out;
}

/// LibTorch 1.13 counts FLOPs for forward convolutions only (aten::conv2d). The backward pass
/// computes the input and the weight gradient, each as many multiply-adds as the forward:
/// 2 · 2 · |grad_output| · (C_in/groups · k_h · k_w), from the recorded shapes (grad_output,
/// input, weight, ...). The first layer's input gradient is skipped by LibTorch, so this
/// overcounts it slightly.
double convolution_backward_flops(const torch::autograd::profiler::LegacyEvent& e) {
  const auto shapes = e.shapes();
  if (shapes.size() < 3 || shapes[0].size() != 4 || shapes[2].size() != 4) return 0;
  double out = 1, per_output = 1;
  for (int64_t d : shapes[0]) out *= double(d);
  for (size_t i = 1; i < 4; ++i) per_output *= double(shapes[2][i]);
  return 2.0 * 2.0 * out * per_output;
}

/// Our Winograd convolutions (models/conv3x3.h) count the FLOPs of the direct convolution they
/// replace, 2 · |y| · C_in · 9 from the recorded (x, w) shapes, so that their GFLOP/s is
/// *effective*: above the sgemm line when fewer multiplications do the same work. The same
/// formula counts the pointwise kernel's 1×1 convolutions (C_in · 1).
double direct_convolution_flops(const torch::autograd::profiler::LegacyEvent& e) {
  const auto shapes = e.shapes();
  if (shapes.size() < 2 || shapes[0].size() != 4 || shapes[1].size() != 4) return 0;
  const auto& x = shapes[0];
  const auto& w = shapes[1];
  return 2.0 * double(x[0] * w[0] * x[2] * x[3]) * double(w[1] * w[2] * w[3]);
}

}  // namespace

std::string op_category(const std::string& name) {
  // Our fused kernels (models/group_norm_act.h, models/fused_attention.h, training/adamw.h)
  // record themselves as ddpm:: ranges.
  if (contains(name, "ddpm::group_norm_act")) return "normalization";
  if (contains(name, "ddpm::fused_attention") || contains(name, "ddpm::gemm_attention"))
    return "attention (QK, softmax, PV)";
  if (contains(name, "ddpm::adamw")) return "optimizer (AdamW)";
  if (contains(name, "conv")) return "convolution";
  // The UNet's only batched matrix products are attention's QKᵀ and PV.
  if (contains(name, "bmm") || contains(name, "softmax")) return "attention (QK, softmax, PV)";
  if (name == "aten::addmm" || name == "aten::mm") return "linear layers";
  if (contains(name, "group_norm") || contains(name, "batch_norm")) return "normalization";
  if (contains(name, "silu")) return "SiLU";
  if (contains(name, "upsample") || contains(name, "pool")) return "resampling";
  if (contains(name, "lerp") || contains(name, "addcdiv") || contains(name, "addcmul") ||
      contains(name, "sqrt"))
    return "optimizer (AdamW)";
  return "elementwise, copies, other";
}

namespace {

/// One profiled pass over `repeats` runs of `work`: per operator, self time and calls summed, and
/// with `shapes` the FLOPs too (which need the input shapes recorded).
struct Pass {
  std::map<std::string, OpStats> by_name;
  double wall_ms = 0;
};

Pass profiled_pass(const std::function<void()>& work, int repeats, bool shapes) {
  using torch::autograd::profiler::LegacyEvent;
  const torch::profiler::impl::ProfilerConfig config(
      torch::profiler::impl::ProfilerState::CPU, /*report_input_shapes=*/shapes,
      /*profile_memory=*/false, /*with_stack=*/false, /*with_flops=*/shapes);
  torch::autograd::profiler::enableProfilerLegacy(config);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) work();
  Pass pass;
  pass.wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  auto threads = torch::autograd::profiler::disableProfilerLegacy();

  struct Open {
    const LegacyEvent* push;
    double child_us = 0;
  };
  for (const auto& events : threads) {
    std::vector<Open> stack;
    for (const auto& e : events) {
      const std::string kind = e.kindStr();
      if (kind == "push") {
        stack.push_back({&e});
      } else if (kind == "pop" && !stack.empty()) {
        const Open open = stack.back();
        stack.pop_back();
        const double us = open.push->cpuElapsedUs(e);
        if (!stack.empty()) stack.back().child_us += us;
        const std::string name = open.push->name();
        // ATen operators and our kernels' ranges; not autograd nodes or other ranges.
        if (name.rfind("aten::", 0) != 0 && name.rfind("ddpm::", 0) != 0) continue;
        auto& stats = pass.by_name[name];
        stats.name = name;
        stats.category = op_category(name);
        stats.self_ms += (us - open.child_us) / 1000.0;
        stats.calls += 1;
        if (!shapes) continue;
        double flops = double(const_cast<LegacyEvent*>(open.push)->flops());
        if (name == "aten::convolution_backward" || name == "ddpm::winograd_conv3x3_backward")
          flops = convolution_backward_flops(*open.push);  // (dy, x, w) like LibTorch's
        if (name == "ddpm::winograd_conv3x3" || name == "ddpm::pointwise_conv")
          flops = direct_convolution_flops(*open.push);
        stats.gflop += flops / 1e9;
      }
    }
  }
  return pass;
}

}  // namespace

OpProfile profile_ops(const std::function<void()>& work, int repeats) {
  // Times from a pass without input shapes: recording them costs tens of µs per operator (a
  // 390 ms fashion-mnist DDIM run took 1325 ms with them, 491 ms without), which would swell the
  // operators that call many others. The FLOPs from one more run with the shapes.
  Pass timed = profiled_pass(work, repeats, /*shapes=*/false);
  const Pass counted = profiled_pass(work, 1, /*shapes=*/true);
  std::map<std::string, OpStats> by_category;
  for (auto& [name, stats] : timed.by_name) {
    stats.self_ms /= repeats;
    stats.calls /= repeats;
    const auto it = counted.by_name.find(name);
    stats.gflop = it == counted.by_name.end() ? 0.0 : it->second.gflop;
    auto& c = by_category[stats.category];
    c.name = c.category = stats.category;
    c.self_ms += stats.self_ms;
    c.calls += stats.calls;
    c.gflop += stats.gflop;
  }
  OpProfile profile;
  profile.ops = sorted_by_self_time(timed.by_name);
  profile.categories = sorted_by_self_time(by_category);
  profile.total_ms = timed.wall_ms / repeats;
  return profile;
}

double measure_sgemm_gflops(int64_t n, int repeats) {
  torch::NoGradGuard no_grad;
  auto a = torch::randn({n, n}), b = torch::randn({n, n}), c = torch::empty({n, n});
  torch::mm_out(c, a, b);  // warm-up: thread pool, BLAS buffers
  std::vector<double> seconds;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    torch::mm_out(c, a, b);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return 2.0 * double(n) * double(n) * double(n) / seconds[seconds.size() / 2] / 1e9;
}

}  // namespace ddpm::bench

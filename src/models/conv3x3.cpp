#include "models/conv3x3.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "models/kernels/direct_conv_kernel.h"
#include "models/kernels/pointwise_conv_kernel.h"
#include "models/kernels/winograd_conv_kernel.h"

namespace ddpm {

template <>
const EnumTable<Conv3x3Algorithm>& enum_table<Conv3x3Algorithm>() {
  static const EnumTable<Conv3x3Algorithm> table{"3x3 convolution algorithm",
                                                 {{Conv3x3Algorithm::onednn, "onednn"},
                                                  {Conv3x3Algorithm::winograd2, "winograd2"},
                                                  {Conv3x3Algorithm::winograd4, "winograd4"},
                                                  {Conv3x3Algorithm::pointwise, "pointwise"},
                                                  {Conv3x3Algorithm::direct, "direct"}}};
  return table;
}

template <>
const EnumTable<Conv3x3Policy>& enum_table<Conv3x3Policy>() {
  static const EnumTable<Conv3x3Policy> table{"3x3 convolution policy",
                                              {{Conv3x3Policy::automatic, "auto"},
                                               {Conv3x3Policy::onednn, "onednn"},
                                               {Conv3x3Policy::winograd2, "winograd2"},
                                               {Conv3x3Policy::winograd4, "winograd4"}}};
  return table;
}

namespace {

std::atomic<Conv3x3Policy> g_policy{Conv3x3Policy::onednn};
std::mutex g_mutex;
std::map<std::string, Conv3x3Algorithm> g_choices;  // under g_mutex
std::map<std::string, Conv3x3Timing> g_timings;     // under g_mutex
std::shared_ptr<Conv3x3TuningStore> g_store;        // under g_mutex

kernels::WinogradTile tile_of(Conv3x3Algorithm a) {
  return a == Conv3x3Algorithm::winograd2 ? kernels::WinogradTile::F2x2
                                          : kernels::WinogradTile::F4x4;
}

// Transformed weights of sampling's parameters, reused until the parameter changes. Bounded: a
// program that makes many models (the tests) starts over when it fills.
struct CachedWeights {
  const void* data;
  uint32_t version;
  Conv3x3Algorithm algorithm;
  kernels::WinogradIsa isa;  // the layout of u depends on it
  torch::Tensor u;
};
std::map<const c10::TensorImpl*, CachedWeights> g_weights;  // under g_mutex
constexpr size_t kMaxCachedWeights = 1024;

/// Floats of U for w [K, C, 3, 3].
size_t weight_floats(const torch::Tensor& w, Conv3x3Algorithm a) {
  return size_t(kernels::winograd_weight_floats(tile_of(a), w.size(1), w.size(0)));
}

/// U = G w Gᵀ into `u` (weight_floats of them).
void transform_weights(const torch::Tensor& w, Conv3x3Algorithm a, float* u) {
  kernels::winograd_transform_weights(tile_of(a), w.data_ptr<float>(), w.size(1), w.size(0), u);
}

torch::Tensor transform_weights(const torch::Tensor& w, Conv3x3Algorithm a) {
  auto u = torch::empty({int64_t(weight_floats(w, a))}, torch::kFloat);
  transform_weights(w, a, u.data_ptr<float>());
  return u;
}

/// A float buffer of at least `floats`, kept per thread and slot and only ever grown: the
/// transformed weights of training, made anew at every step, would otherwise be fresh pages each
/// time (tens of MB for the widest layers; page faults cost more than the transform).
float* scratch(size_t floats, int slot) {
  static thread_local std::vector<float> buffers[2];
  auto& buffer = buffers[slot];
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

/// U for `w`: from the cache when `w` is an ordinary tensor that has not changed since.
torch::Tensor weights_for_forward(const torch::Tensor& w, Conv3x3Algorithm a) {
  if (w.is_inference()) return transform_weights(w, a);
  const auto* impl = w.unsafeGetTensorImpl();
  const uint32_t version = w._version();
  const auto isa = kernels::winograd_isa();
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_weights.find(impl);
    if (it != g_weights.end() && it->second.data == w.data_ptr() && it->second.version == version &&
        it->second.algorithm == a && it->second.isa == isa)
      return it->second.u;
  }
  auto u = transform_weights(w, a);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_weights.size() >= kMaxCachedWeights) g_weights.clear();
  g_weights[impl] = {w.data_ptr(), version, a, isa, u};
  return u;
}

/// The Winograd forward of x by U (+ b, + residual when defined: contiguous, y's shape).
torch::Tensor forward_kernel(const torch::Tensor& x, const float* u, const torch::Tensor& b,
                             int64_t out_channels, Conv3x3Algorithm a,
                             const torch::Tensor& residual = {}) {
  const kernels::Conv3x3Shape s{x.size(0), x.size(1), out_channels, x.size(2), x.size(3)};
  auto y = torch::empty({s.batch, s.out_channels, s.height, s.width}, x.options());
  kernels::winograd_conv3x3_forward(
      tile_of(a), s, x.data_ptr<float>(), u, b.defined() ? b.data_ptr<float>() : nullptr,
      y.data_ptr<float>(), residual.defined() ? residual.data_ptr<float>() : nullptr);
  return y;
}

struct WinogradConvFunction : torch::autograd::Function<WinogradConvFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& w, const torch::Tensor& b, int64_t algorithm,
                               bool cacheable) {
    // Recorded with its shapes: the profile counts its direct-convolution FLOPs (bench/).
    RECORD_FUNCTION("ddpm::winograd_conv3x3", std::vector<c10::IValue>{x, w});
    const auto a = Conv3x3Algorithm(algorithm);
    ctx->save_for_backward({x, w});
    ctx->saved_data["algorithm"] = algorithm;
    ctx->saved_data["has_bias"] = b.numel() > 0;
    const auto bias = b.numel() ? b : torch::Tensor();
    if (cacheable)
      return forward_kernel(x, weights_for_forward(w, a).data_ptr<float>(), bias, w.size(0), a);
    // Training: the weights change every step; transform them into this thread's scratch.
    float* u = scratch(weight_floats(w, a), 0);
    transform_weights(w, a, u);
    return forward_kernel(x, u, bias, w.size(0), a);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& w = saved[1];
    const auto a = Conv3x3Algorithm(ctx->saved_data["algorithm"].toInt());
    const auto dy = grads[0].contiguous();
    RECORD_FUNCTION("ddpm::winograd_conv3x3_backward", std::vector<c10::IValue>{dy, x, w});
    const int64_t K = w.size(0), C = w.size(1);
    torch::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) {  // dx = conv(dy, w flipped, in/out swapped)
      float* u = scratch(size_t(kernels::winograd_weight_floats(tile_of(a), K, C)), 1);
      kernels::winograd_transform_weights_for_input_grad(tile_of(a), w.data_ptr<float>(), C, K, u);
      dx = forward_kernel(dy, u, torch::Tensor(), C, a);
    }
    if (ctx->needs_input_grad(1)) {
      dw = torch::empty_like(w);
      kernels::winograd_conv3x3_weight_grad(tile_of(a), {x.size(0), C, K, x.size(2), x.size(3)},
                                            x.data_ptr<float>(), dy.data_ptr<float>(),
                                            dw.data_ptr<float>());
    }
    if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2)) db = dy.sum({0, 2, 3});
    return {dx, dw, db, torch::Tensor(), torch::Tensor()};
  }
};

bool eligible(const torch::nn::Conv2d& conv, const torch::Tensor& x) {
  const auto& o = conv->options;
  const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
  return x.device().is_cpu() && x.scalar_type() == torch::kFloat && x.dim() == 4 &&
         conv->weight.scalar_type() == torch::kFloat && (*o.kernel_size())[0] == 3 &&
         (*o.kernel_size())[1] == 3 && (*o.stride())[0] == 1 && (*o.stride())[1] == 1 && padding &&
         (**padding)[0] == 1 && (**padding)[1] == 1 && (*o.dilation())[0] == 1 &&
         (*o.dilation())[1] == 1 && o.groups() == 1 &&
         c10::holds_alternative<torch::enumtype::kZeros>(o.padding_mode());
}

/// Whether the convolution of x by w and b (undefined: none) needs a gradient: autograd on, and
/// any of them requires one.
bool needs_grad(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  return torch::GradMode::is_enabled() &&
         (x.requires_grad() || w.requires_grad() || (b.defined() && b.requires_grad()));
}
bool needs_grad(const torch::nn::Conv2d& conv, const torch::Tensor& x) {
  return needs_grad(x, conv->weight, conv->bias);
}

/// The pointwise kernel's 1×1 convolution of x, or of cat({x, x2}, 1) without the concatenation
/// when x2 is defined (no autograd).
torch::Tensor pointwise_forward(const torch::Tensor& x, const torch::Tensor& x2,
                                const torch::Tensor& w, const torch::Tensor& b) {
  const int64_t c2 = x2.defined() ? x2.size(1) : 0;
  TORCH_CHECK(w.dim() == 4 && w.size(2) == 1 && w.size(3) == 1 && x.dim() == 4 &&
                  x.size(1) + c2 == w.size(1),
              "the pointwise kernel takes x [N, C, H, W] (C split between two maps for a skip "
              "connection) and w [K, C, 1, 1], got ",
              x.sizes(), (x2.defined() ? " and " + c10::str(x2.sizes()) : ""), " and ", w.sizes());
  const auto input = x.contiguous(), weight = w.contiguous();
  const auto input2 = x2.defined() ? x2.contiguous() : x2;
  const auto bias = b.defined() ? b.contiguous() : b;
  const kernels::PointwiseShape s{input.size(0), weight.size(1), weight.size(0),
                                  input.size(2) * input.size(3)};
  auto y = torch::empty({s.batch, s.out_channels, input.size(2), input.size(3)}, input.options());
  // Recorded as (x, w), whatever x2: the profile counts 2·N·K·H·W·C from them.
  RECORD_FUNCTION("ddpm::pointwise_conv", std::vector<c10::IValue>{input, weight});
  kernels::pointwise_conv_forward_concat(
      s, input.data_ptr<float>(), input.size(1),
      input2.defined() ? input2.data_ptr<float>() : nullptr, weight.data_ptr<float>(),
      bias.defined() ? bias.data_ptr<float>() : nullptr, y.data_ptr<float>());
  return y;
}

/// The pointwise convolution with autograd: dx (split as the input was) and dw by the pointwise
/// kernel's backward, db as dy's sum.
struct PointwiseConvFunction : torch::autograd::Function<PointwiseConvFunction> {
  /// x2, b: empty tensors when absent (autograd functions take defined tensors only).
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& x2, const torch::Tensor& w,
                               const torch::Tensor& b) {
    const bool split = x2.numel() > 0;
    auto y = pointwise_forward(x, split ? x2 : torch::Tensor(), w, b.numel() ? b : torch::Tensor());
    ctx->save_for_backward({x.contiguous(), split ? x2.contiguous() : x2, w.contiguous()});
    ctx->saved_data["has_bias"] = b.numel() > 0;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &x2 = saved[1], &w = saved[2];
    const auto dy = grads[0].contiguous();
    RECORD_FUNCTION("ddpm::pointwise_conv_backward", std::vector<c10::IValue>{dy, x, w});
    const bool split = x2.numel() > 0;
    const int64_t c1 = x.size(1);
    const kernels::PointwiseShape s{x.size(0), w.size(1), w.size(0), x.size(2) * x.size(3)};
    torch::Tensor dx, dx2, dw, db;
    if (ctx->needs_input_grad(0) || (split && ctx->needs_input_grad(1))) {
      dx = torch::empty_like(x);
      if (split) dx2 = torch::empty_like(x2);
      kernels::pointwise_conv_input_grad(s, dy.data_ptr<float>(), w.data_ptr<float>(), c1,
                                         dx.data_ptr<float>(),
                                         split ? dx2.data_ptr<float>() : nullptr);
    }
    if (ctx->needs_input_grad(2)) {
      dw = torch::empty_like(w);
      kernels::pointwise_conv_weight_grad(s, dy.data_ptr<float>(), x.data_ptr<float>(), c1,
                                          split ? x2.data_ptr<float>() : nullptr,
                                          dw.data_ptr<float>());
    }
    if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(3)) db = dy.sum({0, 2, 3});
    return {dx, dx2, dw, db};
  }
};

/// The pointwise kernel's 1×1 convolution of x, or of cat({x, x2}, 1) without the concatenation
/// when x2 is defined; through the autograd function when a gradient is needed.
torch::Tensor pointwise_conv(const torch::Tensor& x, const torch::Tensor& x2,
                             const torch::Tensor& w, const torch::Tensor& b) {
  if (!needs_grad(x, w, b) && !(x2.defined() && needs_grad(x2, w, b)))
    return pointwise_forward(x, x2, w, b);
  const auto none = torch::empty({0}, w.options());
  return PointwiseConvFunction::apply(x, x2.defined() ? x2 : none, w, b.defined() ? b : none);
}

/// The direct kernel's 3×3 convolution (no autograd: callers need no gradient).
torch::Tensor direct_conv(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  const auto input = x.contiguous(), weight = w.contiguous();
  const auto bias = b.defined() ? b.contiguous() : b;
  const kernels::DirectConvShape s{input.size(0), input.size(1), weight.size(0), input.size(2),
                                   input.size(3)};
  auto y = torch::empty({s.batch, s.out_channels, s.height, s.width}, input.options());
  RECORD_FUNCTION("ddpm::direct_conv3x3", std::vector<c10::IValue>{input, weight});
  kernels::direct_conv3x3_forward(s, input.data_ptr<float>(), weight.data_ptr<float>(),
                                  bias.defined() ? bias.data_ptr<float>() : nullptr,
                                  y.data_ptr<float>());
  return y;
}

/// Whether the direct kernel is offered to a layer: no gradient, and at most this many channels
/// on one side.
constexpr int64_t kDirectMaxChannels = 4;
bool direct_candidate(const torch::nn::Conv2d& conv, bool grad) {
  return !grad && std::min(conv->weight.size(0), conv->weight.size(1)) <= kDirectMaxChannels;
}

/// Whether `conv` is a plain 1×1 convolution: stride 1, no padding, ungrouped.
bool plain_1x1(const torch::nn::Conv2d& conv) {
  const auto& o = conv->options;
  const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
  return (*o.kernel_size())[0] == 1 && (*o.kernel_size())[1] == 1 && (*o.stride())[0] == 1 &&
         (*o.stride())[1] == 1 && padding && (**padding)[0] == 0 && (**padding)[1] == 0 &&
         o.groups() == 1;
}

/// Whether the 1×1 convolution of x by w4 [K, C, 1, 1] and b may take the pointwise kernel: the
/// automatic policy, CPU float32 maps.
bool pointwise_candidate(const torch::Tensor& x, const torch::Tensor& w4, const torch::Tensor& b) {
  return g_policy.load() == Conv3x3Policy::automatic && x.device().is_cpu() &&
         x.scalar_type() == torch::kFloat && x.dim() == 4 && w4.scalar_type() == torch::kFloat &&
         w4.dim() == 4 && w4.size(2) == 1 && w4.size(3) == 1 &&
         (!b.defined() || b.scalar_type() == torch::kFloat);
}

torch::Tensor run(Conv3x3Algorithm a, torch::nn::Conv2d& conv, const torch::Tensor& x) {
  if (a == Conv3x3Algorithm::direct) {
    // Forward only: a decision pinned from elsewhere never takes it where a gradient is needed.
    if (!needs_grad(conv, x)) return direct_conv(x, conv->weight, conv->bias);
    a = Conv3x3Algorithm::onednn;
  }
  if (a == Conv3x3Algorithm::onednn) return conv->forward(x);
  return winograd_conv3x3(x, conv->weight, conv->bias, a);
}

/// A 1×1 convolution with w [K, C, 1, 1] by oneDNN or the pointwise kernel.
torch::Tensor run_1x1(Conv3x3Algorithm a, const torch::Tensor& x, const torch::Tensor& w,
                      const torch::Tensor& b) {
  if (a == Conv3x3Algorithm::pointwise) return pointwise_conv(x, {}, w, b);
  TORCH_CHECK(a == Conv3x3Algorithm::onednn, "a 1x1 convolution cannot run as ", to_string(a));
  return torch::conv2d(x, w, b);
}

/// Median seconds of `f` over 3 runs after one warm-up.
template <typename F>
double median_seconds(F&& f) {
  f();
  std::vector<double> t;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[1];
}

// Winograd is kept only when it is at least this much faster, so that timing noise does not
// flip a layer that is a tie.
constexpr double kMargin = 0.9;

Conv3x3Algorithm measure(torch::nn::Conv2d& conv, const torch::Tensor& x, bool grad,
                         const std::string& key) {
  // Every shape is measured, narrow ones included: on AVX-512, F(4×4) wins at 16 channels
  // (fashion-mnist, 32×16→16 at 32×32: 0.73 → 0.53 ms forward, 11.8 → 5.2 ms with backward).
  const auto out_channels = conv->weight.size(0);
  auto time = [&](Conv3x3Algorithm a) {
    if (!grad) {
      torch::NoGradGuard no_grad;
      return median_seconds([&] { run(a, conv, x); });
    }
    auto input = x.detach().requires_grad_(x.requires_grad());
    auto dy = torch::ones({x.size(0), out_channels, x.size(2), x.size(3)}, x.options());
    return median_seconds([&] {
      auto y = run(a, conv, input);
      y.backward(dy);
    });
  };
  // The parameters' .grad must come out as it went in.
  std::vector<torch::Tensor> grads;
  for (auto& p : conv->parameters())
    grads.push_back(p.grad().defined() ? p.grad().clone() : p.grad());
  const double onednn = time(Conv3x3Algorithm::onednn);
  const double w2 = time(Conv3x3Algorithm::winograd2);
  const double w4 = time(Conv3x3Algorithm::winograd4);
  const double direct =
      direct_candidate(conv, grad) ? time(Conv3x3Algorithm::direct) : Conv3x3Timing::kNotMeasured;
  size_t i = 0;
  for (auto& p : conv->parameters()) p.mutable_grad() = grads[i++];
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto& t = g_timings[key];
    t.onednn = onednn, t.winograd2 = w2, t.winograd4 = w4, t.direct = direct;
  }
  auto best = w4 <= w2 ? Conv3x3Algorithm::winograd4 : Conv3x3Algorithm::winograd2;
  double best_time = std::min(w2, w4);
  if (direct < best_time) best = Conv3x3Algorithm::direct, best_time = direct;  // false for NaN
  return best_time < kMargin * onednn ? best : Conv3x3Algorithm::onednn;
}

/// A 1×1 layer: oneDNN or the pointwise kernel, forward only or (grad) forward + backward, on
/// detached copies so that no parameter's .grad changes.
Conv3x3Algorithm measure_1x1(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                             bool grad, const std::string& key) {
  auto time = [&](Conv3x3Algorithm a) {
    if (!grad) {
      torch::NoGradGuard no_grad;
      return median_seconds([&] { run_1x1(a, x, w, b); });
    }
    auto leaf = [](const torch::Tensor& t) {
      return t.defined() ? t.detach().requires_grad_(t.requires_grad()) : t;
    };
    const auto input = leaf(x), weight = leaf(w), bias = leaf(b);
    const auto dy = torch::ones({x.size(0), w.size(0), x.size(2), x.size(3)}, x.options());
    return median_seconds([&] { run_1x1(a, input, weight, bias).backward(dy); });
  };
  const double onednn = time(Conv3x3Algorithm::onednn);
  const double pointwise = time(Conv3x3Algorithm::pointwise);
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto& t = g_timings[key];
    t.onednn = onednn, t.pointwise = pointwise;
  }
  return pointwise < kMargin * onednn ? Conv3x3Algorithm::pointwise : Conv3x3Algorithm::onednn;
}

std::string shape_key(int64_t n, int64_t c, int64_t k, int64_t h, int64_t w, bool grad) {
  return fmt::format("{}x{}->{}x{}x{}{}", n, c, k, h, w, grad ? "+grad" : "");
}

std::string shape_key(const torch::Tensor& x, int64_t out_channels, bool grad) {
  return shape_key(x.size(0), x.size(1), out_channels, x.size(2), x.size(3), grad);
}

/// The algorithm for shape `key`: decided before (in this process, or pinned), else as the
/// tuning store has it, else measured (and recorded there).
template <typename Measure>
Conv3x3Algorithm decide(const std::string& key, Measure&& measure) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);  // not held while running: the cache takes it
    if (auto it = g_choices.find(key); it != g_choices.end()) return it->second;
  }
  std::shared_ptr<Conv3x3TuningStore> store;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    store = g_store;
  }
  std::optional<Conv3x3Algorithm> found = store ? store->find(key) : std::nullopt;
  auto chosen = found ? *found : measure();
  if (store && !found) chosen = store->record(key, chosen);  // an earlier decision stands
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_choices.emplace(key, chosen).first->second;  // another thread's decision stands
}

}  // namespace

void set_conv3x3_policy(Conv3x3Policy policy) {
  g_policy = policy;
}
Conv3x3Policy conv3x3_policy() {
  return g_policy;
}

std::map<std::string, Conv3x3Algorithm> conv3x3_choices() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_choices;
}

nlohmann::json conv3x3_choices_to_json(const std::map<std::string, Conv3x3Algorithm>& choices) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [shape, algorithm] : choices) json[shape] = to_string(algorithm);
  return json;
}

std::map<std::string, Conv3x3Algorithm> conv3x3_choices_from_json(const nlohmann::json& json) {
  std::map<std::string, Conv3x3Algorithm> choices;
  for (const auto& [shape, algorithm] : json.get<std::map<std::string, std::string>>())
    choices[shape] = parse_enum<Conv3x3Algorithm>(algorithm);
  return choices;
}

void pin_conv3x3_choices(const std::map<std::string, Conv3x3Algorithm>& choices) {
  std::lock_guard<std::mutex> lock(g_mutex);
  for (const auto& [key, a] : choices) g_choices[key] = a;
}

std::map<std::string, Conv3x3Timing> conv3x3_measurements() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_timings;
}

void set_conv3x3_tuning_store(std::shared_ptr<Conv3x3TuningStore> store) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_store = std::move(store);
}

void reset_conv3x3_choices() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_choices.clear();
  g_timings.clear();
  g_weights.clear();
}

torch::Tensor winograd_conv3x3(const torch::Tensor& x, const torch::Tensor& w,
                               const torch::Tensor& b, Conv3x3Algorithm algorithm) {
  TORCH_CHECK(algorithm != Conv3x3Algorithm::onednn, "winograd_conv3x3: pick a Winograd tile");
  TORCH_CHECK(
      x.dim() == 4 && w.dim() == 4 && w.size(2) == 3 && w.size(3) == 3 && x.size(1) == w.size(1),
      "winograd_conv3x3: expected x [N, C, H, W] and w [K, C, 3, 3], got ", x.sizes(), " and ",
      w.sizes());
  const bool cacheable = !(torch::GradMode::is_enabled() && w.requires_grad());
  // Autograd functions take defined tensors only: no bias is an empty one.
  return WinogradConvFunction::apply(x.contiguous(), w.contiguous(),
                                     b.defined() ? b.contiguous() : torch::empty({0}, w.options()),
                                     int64_t(algorithm), cacheable);
}

namespace {

/// The algorithm for conv(x): the policy's, or under the automatic one this shape's decision;
/// oneDNN for convolutions the other algorithms do not cover.
Conv3x3Algorithm algorithm_for(torch::nn::Conv2d& conv, const torch::Tensor& x) {
  if (!eligible(conv, x)) return Conv3x3Algorithm::onednn;
  switch (g_policy.load()) {
    case Conv3x3Policy::onednn:
      return Conv3x3Algorithm::onednn;
    case Conv3x3Policy::winograd2:
      return Conv3x3Algorithm::winograd2;
    case Conv3x3Policy::winograd4:
      return Conv3x3Algorithm::winograd4;
    case Conv3x3Policy::automatic:
      break;
  }
  const bool grad = needs_grad(conv, x);
  const auto key = shape_key(x, conv->weight.size(0), grad);
  return decide(key, [&] { return measure(conv, x, grad, key); });
}

}  // namespace

torch::Tensor conv3x3(torch::nn::Conv2d& conv, const torch::Tensor& x) {
  return run(algorithm_for(conv, x), conv, x);
}

torch::Tensor conv3x3(torch::nn::Conv2d& conv, const torch::Tensor& x,
                      const torch::Tensor& residual) {
  const auto a = algorithm_for(conv, x);
  const bool winograd = a == Conv3x3Algorithm::winograd2 || a == Conv3x3Algorithm::winograd4;
  const std::vector<int64_t> out_shape{x.size(0), conv->weight.size(0), x.size(2), x.size(3)};
  if (!winograd || needs_grad(conv, x) || residual.sizes() != out_shape ||
      !residual.device().is_cpu() || residual.scalar_type() != torch::kFloat ||
      (torch::GradMode::is_enabled() && residual.requires_grad()))
    return run(a, conv, x) + residual;
  // The residual added in the output transform: one pass over y less, the same sums.
  const auto input = x.contiguous();
  RECORD_FUNCTION("ddpm::winograd_conv3x3", std::vector<c10::IValue>{input, conv->weight});
  const auto u = weights_for_forward(conv->weight, a);
  return forward_kernel(input, u.data_ptr<float>(), conv->bias, conv->weight.size(0), a,
                        residual.contiguous());
}

torch::Tensor conv1x1(torch::nn::Conv2d& conv, const torch::Tensor& x) {
  return plain_1x1(conv) ? conv1x1(x, conv->weight, conv->bias) : conv->forward(x);
}

torch::Tensor conv1x1_concat(torch::nn::Conv2d& conv, const torch::Tensor& x1,
                             const torch::Tensor& x2) {
  torch::Tensor joined;  // cat({x1, x2}, 1), made once, when needed
  auto concatenation = [&] {
    if (!joined.defined()) joined = torch::cat({x1, x2}, 1);
    return joined;
  };
  const auto &w = conv->weight, &b = conv->bias;
  if (!plain_1x1(conv) || !pointwise_candidate(x1, w, b) || !pointwise_candidate(x2, w, b) ||
      x1.size(0) != x2.size(0) || x1.size(2) != x2.size(2) || x1.size(3) != x2.size(3))
    return conv1x1(conv, concatenation());
  // The same decision as for the concatenated input (measured on it the first time).
  const bool grad = needs_grad(x1, w, b) || needs_grad(x2, w, b);
  const auto key =
      shape_key(x1.size(0), x1.size(1) + x2.size(1), w.size(0), x1.size(2), x1.size(3), grad) +
      " 1x1";
  const auto a = decide(key, [&] { return measure_1x1(concatenation(), w, b, grad, key); });
  if (a == Conv3x3Algorithm::pointwise) return pointwise_conv(x1, x2, w, b);
  return run_1x1(a, concatenation(), w, b);
}

torch::Tensor conv1x1(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  const auto w4 = w.dim() == 2 ? w.view({w.size(0), w.size(1), 1, 1}) : w;  // [K, C, 1, 1]
  if (!pointwise_candidate(x, w4, b)) return torch::conv2d(x, w4, b);
  const bool grad = needs_grad(x, w4, b);
  const auto key = shape_key(x, w4.size(0), grad) + " 1x1";
  return run_1x1(decide(key, [&] { return measure_1x1(x, w4, b, grad, key); }), x, w4, b);
}

}  // namespace ddpm

// The 3×3, stride-1, padding-1 convolutions that dominate every UNet (67–79 % of a step in the
// profile), computed either by LibTorch (oneDNN's direct convolution) or by the Winograd kernels
// of models/kernels/winograd_conv_kernel.h, F(2×2, 3×3) or F(4×4, 3×3), forward and both
// backward passes (an autograd function).
//
// Which one runs is decided per layer shape (batch, channels in/out, height, width, and whether
// gradients are needed) by measuring each once (the autotune) and keeping the fastest, Winograd
// only when it wins by a margin, so that no layer gets slower; or fixed by the policy. The
// decisions can be kept beyond the process (a Conv3x3TuningStore: the ddpm program keeps a
// tuning file per machine), read and pinned (conv3x3_choices): training checkpoints record them
// and a resume pins them, sample PNGs record them and `sample --from-png` pins them, so that a
// resumed run continues as it would have and a sample is re-created bit for bit (F(4×4) differs
// from oneDNN by ~1e-5). The library's default policy is oneDNN, the reference path; the ddpm
// program's is automatic (DDPM_CONV). Sampling reuses the transformed weights of a parameter
// until it changes (its version counter moves, or its storage).
//
// Layers with at most 4 channels on one side (conv_in, conv_out) are also offered the direct
// kernel (kernels/direct_conv_kernel.h) when no gradient is needed, under the automatic policy.
//
// The 1×1 convolutions of the residual blocks' shortcuts and of attention go the same way: oneDNN
// or the pointwise kernel (models/kernels/pointwise_conv_kernel.h; with a gradient its autograd
// function, whose backward is the kernel's too), measured per shape, with and without gradients,
// under the automatic policy only; under the fixed policies they stay on oneDNN. (oneDNN's
// backward of fashion-mnist's 32×48→16 shortcut at 32×32 took 24–35 ms of a ~120 ms step.)
//
//   ResnetBlock: h = conv3x3(conv1, x);   // instead of conv1(x)
//                s = conv1x1(conv_shortcut, x);
//   set_conv3x3_policy(Conv3x3Policy::onednn);   // the reference path
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/enum_table.h"

namespace ddpm {

/// pointwise: 1×1 layers only (their shape keys end in " 1x1"); direct: 3×3 layers without
/// gradients with at most 4 channels in or out (kernels/direct_conv_kernel.h).
enum class Conv3x3Algorithm { onednn, winograd2, winograd4, pointwise, direct };
template <>
const EnumTable<Conv3x3Algorithm>& enum_table<Conv3x3Algorithm>();

/// automatic: measure per shape (the ddpm program's default); the others fix the algorithm for
/// every 3×3 layer (onednn: the library's default).
enum class Conv3x3Policy { automatic, onednn, winograd2, winograd4 };
template <>
const EnumTable<Conv3x3Policy>& enum_table<Conv3x3Policy>();

void set_conv3x3_policy(Conv3x3Policy policy);
Conv3x3Policy conv3x3_policy();

/// The decisions made so far, "N×C→K×H×W[+grad]" → algorithm, and pinning them (taken as made;
/// shapes not listed are measured as usual).
std::map<std::string, Conv3x3Algorithm> conv3x3_choices();
void pin_conv3x3_choices(const std::map<std::string, Conv3x3Algorithm>& choices);
/// Choices as they are written down (checkpoint state, PNG parameters): {shape: algorithm name}.
nlohmann::json conv3x3_choices_to_json(const std::map<std::string, Conv3x3Algorithm>& choices);
/// And back; throws for a value that is not a string or not an algorithm's name (naming the
/// allowed ones).
std::map<std::string, Conv3x3Algorithm> conv3x3_choices_from_json(const nlohmann::json& json);
/// The autotune's measurements so far: shape key → median seconds of oneDNN, F(2×2), F(4×4)
/// (forward, or forward + backward for "+grad" shapes) and of the direct kernel where it is
/// offered, or of oneDNN and the pointwise kernel for 1×1 shapes; NaN for what was not measured.
struct Conv3x3Timing {
  static constexpr double kNotMeasured = std::numeric_limits<double>::quiet_NaN();
  double onednn = kNotMeasured, winograd2 = kNotMeasured, winograd4 = kNotMeasured,
         pointwise = kNotMeasured, direct = kNotMeasured;
};
std::map<std::string, Conv3x3Timing> conv3x3_measurements();

/// Forgets the measurements (tests, benchmarks).
void reset_conv3x3_choices();

/// Decisions kept beyond the process (a tuning file, runs/conv3x3_tuning_file.h), so that the
/// same machine decides a shape the same way every time: under the automatic policy a shape not
/// yet decided is looked up here before it is measured, and each new measurement is recorded.
/// record returns the decision that holds: a decision another process recorded for the shape
/// meanwhile stands, and this process takes it too.
struct Conv3x3TuningStore {
  virtual ~Conv3x3TuningStore() = default;
  virtual std::optional<Conv3x3Algorithm> find(const std::string& shape) = 0;
  virtual Conv3x3Algorithm record(const std::string& shape, Conv3x3Algorithm algorithm) = 0;
};
/// Installs the store (nullptr: none, the default).
void set_conv3x3_tuning_store(std::shared_ptr<Conv3x3TuningStore> store);
/// Bumped whenever the kernels change enough that earlier decisions no longer hold.
inline constexpr int kConv3x3KernelRevision = 5;

/// conv(x) with the algorithm for this shape when `conv` is a 3×3, stride-1, padding-1,
/// ungrouped, undilated float32 CPU convolution; conv->forward(x) otherwise.
torch::Tensor conv3x3(torch::nn::Conv2d& conv, const torch::Tensor& x);
/// conv3x3(conv, x) + residual, the sum made in the Winograd kernel's output transform when that
/// runs without autograd and the residual is a float32 CPU tensor of the output's shape (a
/// residual block's shortcut: one pass over the output less, the same result bit for bit).
torch::Tensor conv3x3(torch::nn::Conv2d& conv, const torch::Tensor& x,
                      const torch::Tensor& residual);

/// conv(x) with the algorithm for this shape (and whether it needs a gradient) when `conv` is a
/// 1×1, stride-1, unpadded, ungrouped, float32 CPU convolution and the policy is automatic;
/// conv->forward(x) otherwise.
torch::Tensor conv1x1(torch::nn::Conv2d& conv, const torch::Tensor& x);
/// conv1x1(conv, cat({x1, x2}, 1)), without the concatenation being made when the pointwise
/// kernel runs (the UNet's skip connections; the same result bit for bit).
torch::Tensor conv1x1_concat(torch::nn::Conv2d& conv, const torch::Tensor& x1,
                             const torch::Tensor& x2);
/// The same for x [N, C, H, W] and weights as tensors: w [K, C, 1, 1], or [K, C] (a linear
/// layer's, applied at every pixel), b [K] or undefined.
torch::Tensor conv1x1(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b);

/// The Winograd convolution itself (x [N, C, H, W], w [K, C, 3, 3], b [K] or undefined), with
/// autograd: dx by the same kernel on the flipped weights, dw in the Winograd domain.
torch::Tensor winograd_conv3x3(const torch::Tensor& x, const torch::Tensor& w,
                               const torch::Tensor& b, Conv3x3Algorithm algorithm);

}  // namespace ddpm

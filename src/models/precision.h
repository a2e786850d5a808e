// Mixed precision through LibTorch's autocast: which dtype a network's matrix products
// (convolutions, linear layers, attention's products) run in, while normalisations, softmax and
// everything the samplers and the loss compute stay in float32 (autocast's per-op policy).
//
//   {
//     AutocastScope autocast(Precision::bf16, x.device());
//     eps = model->forward(x, c).to(torch::kFloat32);
//   }
#pragma once
#include <torch/torch.h>

#include "core/enum_table.h"

namespace ddpm {

/// fp32: no autocast. bf16: bfloat16 products (CPU and CUDA). fp16: float16 products, CUDA only
/// (LibTorch's CPU autocast runs bfloat16 only); training in fp16 needs loss scaling
/// (training/loss_scaler.h).
enum class Precision { fp32, bf16, fp16 };
template <>
const EnumTable<Precision>& enum_table<Precision>();

/// The dtype autocast casts to: kFloat32, kBFloat16 or kHalf.
torch::ScalarType autocast_dtype(Precision precision);

/// Throws std::invalid_argument saying what `device` cannot run and what it can: fp16 on a CPU.
void check_precision(Precision precision, const torch::Device& device);

/// `t` as float32 when it is bfloat16 or float16 (what autocast's matrix products return), else
/// `t` itself (also when undefined): for the layers that keep float32 statistics beside float32
/// parameters (GroupNorm, BatchNorm), as autocast's CUDA policy does for group_norm; LibTorch
/// 1.13's CPU policy does not, and its kernels refuse the mixed dtypes.
torch::Tensor float32_if_reduced(const torch::Tensor& t);

/// Autocast on for `device`'s type with `precision`'s dtype for the scope's lifetime; the
/// previous autocast state is restored on exit (and the cast cache cleared when the outermost
/// scope ends). Precision::fp32 changes nothing. `cache_casts` false disables autocast's weight
/// cast cache, which a CUDA graph capture must not use.
class AutocastScope {
 public:
  AutocastScope(Precision precision, const torch::Device& device, bool cache_casts = true);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  torch::DeviceType device_type_ = torch::kCPU;
  bool previous_enabled_ = false;
  torch::ScalarType previous_dtype_ = torch::kFloat32;
  bool previous_cache_ = true;
};

}  // namespace ddpm

#include "models/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <stdexcept>

namespace ddpm {

template <>
const EnumTable<Precision>& enum_table<Precision>() {
  static const EnumTable<Precision> table{
      "precision",
      {{Precision::fp32, "fp32"}, {Precision::bf16, "bf16"}, {Precision::fp16, "fp16"}}};
  return table;
}

torch::ScalarType autocast_dtype(Precision precision) {
  switch (precision) {
    case Precision::bf16:
      return torch::kBFloat16;
    case Precision::fp16:
      return torch::kHalf;
    case Precision::fp32:
      break;
  }
  return torch::kFloat32;
}

torch::Tensor float32_if_reduced(const torch::Tensor& t) {
  if (!t.defined()) return t;
  const auto type = t.scalar_type();
  return type == torch::kBFloat16 || type == torch::kHalf ? t.to(torch::kFloat32) : t;
}

void check_precision(Precision precision, const torch::Device& device) {
  if (precision == Precision::fp16 && !device.is_cuda())
    throw std::invalid_argument(
        "precision fp16 needs a CUDA device (LibTorch's CPU autocast runs "
        "bfloat16 only); on " +
        device.str() + " use bf16 or fp32");
  if (!device.is_cpu() && !device.is_cuda() && precision != Precision::fp32)
    throw std::invalid_argument("autocast runs on cpu and cuda devices only, not " + device.str());
}

// LibTorch 2.4 replaced the per-backend autocast setters (set_enabled for CUDA, set_cpu_enabled,
// set_autocast_gpu_dtype, ...) by ones taking the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
namespace {
bool autocast_enabled(torch::DeviceType d) {
  return at::autocast::is_autocast_enabled(d);
}
void set_autocast_enabled(torch::DeviceType d, bool on) {
  at::autocast::set_autocast_enabled(d, on);
}
torch::ScalarType autocast_dtype_of(torch::DeviceType d) {
  return at::autocast::get_autocast_dtype(d);
}
void set_autocast_dtype(torch::DeviceType d, torch::ScalarType t) {
  at::autocast::set_autocast_dtype(d, t);
}
}  // namespace
#else
namespace {
bool autocast_enabled(torch::DeviceType d) {
  return d == torch::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_autocast_enabled(torch::DeviceType d, bool on) {
  if (d == torch::kCUDA)
    at::autocast::set_enabled(on);
  else
    at::autocast::set_cpu_enabled(on);
}
torch::ScalarType autocast_dtype_of(torch::DeviceType d) {
  return d == torch::kCUDA ? at::autocast::get_autocast_gpu_dtype()
                           : at::autocast::get_autocast_cpu_dtype();
}
void set_autocast_dtype(torch::DeviceType d, torch::ScalarType t) {
  if (d == torch::kCUDA)
    at::autocast::set_autocast_gpu_dtype(t);
  else
    at::autocast::set_autocast_cpu_dtype(t);
}
}  // namespace
#endif

AutocastScope::AutocastScope(Precision precision, const torch::Device& device, bool cache_casts) {
  if (precision == Precision::fp32) return;
  check_precision(precision, device);
  active_ = true;
  device_type_ = device.type();
  previous_enabled_ = autocast_enabled(device_type_);
  previous_dtype_ = autocast_dtype_of(device_type_);
  previous_cache_ = at::autocast::is_autocast_cache_enabled();
  set_autocast_enabled(device_type_, true);
  set_autocast_dtype(device_type_, autocast_dtype(precision));
  at::autocast::set_autocast_cache_enabled(cache_casts);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // As torch.autocast.__exit__: the cached weight casts live until the outermost scope ends.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast_enabled(device_type_, previous_enabled_);
  set_autocast_dtype(device_type_, previous_dtype_);
  at::autocast::set_autocast_cache_enabled(previous_cache_);
}

}  // namespace ddpm

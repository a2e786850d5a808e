#include "models/fused_dropout.h"

#include <ATen/CPUGeneratorImpl.h>

#include <mutex>

#include "models/kernels/dropout_kernel.h"

namespace ddpm {

namespace {

/// A fresh 64-bit key from the default CPU generator (as bernoulli_ would draw from it).
uint64_t draw_key() {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get<at::CPUGeneratorImpl>()->random64();
}

torch::Tensor apply_mask(const torch::Tensor& in, uint64_t key, double p) {
  auto out = torch::empty_like(in, torch::MemoryFormat::Contiguous);
  kernels::philox_dropout(in.data_ptr<float>(), out.data_ptr<float>(), in.numel(), key, p);
  return out;
}

struct FusedDropoutFunction : torch::autograd::Function<FusedDropoutFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               double p) {
    RECORD_FUNCTION("ddpm::fused_dropout", std::vector<c10::IValue>{x});
    const uint64_t key = draw_key();
    ctx->saved_data["key"] = int64_t(key);
    ctx->saved_data["p"] = p;
    return apply_mask(x.contiguous(), key, p);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    RECORD_FUNCTION("ddpm::fused_dropout_backward", std::vector<c10::IValue>{grads[0]});
    // The same mask, recomputed from the key: dx = dy · mask / (1 − p).
    const auto key = uint64_t(ctx->saved_data["key"].toInt());
    return {apply_mask(grads[0].contiguous(), key, ctx->saved_data["p"].toDouble()),
            torch::Tensor()};
  }
};

}  // namespace

torch::Tensor fused_dropout(const torch::Tensor& x, double p, bool training) {
  TORCH_CHECK(p >= 0 && p < 1, "dropout probability must be in [0, 1), got ", p);
  if (!training || p == 0) return x;
  if (!x.is_cpu() || x.scalar_type() != torch::kFloat32) return torch::dropout(x, p, training);
  return FusedDropoutFunction::apply(x, p);
}

}  // namespace ddpm

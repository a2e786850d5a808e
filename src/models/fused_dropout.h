// Dropout in one pass on the CPU, its mask drawn by a counter-based generator
// (kernels/dropout_kernel.h) under a key taken from LibTorch's default CPU generator: the same
// distribution as torch::dropout (each element kept with probability 1 − p and scaled by
// 1 / (1 − p)), with the randomness still owned by that generator, so that a training run's seed
// and its checkpointed generator state decide it as before. Why: LibTorch 1.13's CPU
// bernoulli_ draws one element at a time from the generator and the mask is then applied in two
// more passes (5.2 ms a call in ddpm-cifar10 training, 5 % of a step, in the profile); here it is
// one vectorised pass (about 1.5 ms for 2 Mi elements), and the backward pass recomputes the mask
// from the key instead of keeping it.
//
//   h = conv3x3(conv2, fused_dropout(h, dropout->options.p(), is_training()));
#pragma once
#include <torch/torch.h>

namespace ddpm {

/// x itself when not training or p == 0; one fused pass for a CPU float32 tensor (differentiable
/// in x); torch::dropout otherwise. p in [0, 1).
torch::Tensor fused_dropout(const torch::Tensor& x, double p, bool training);

}  // namespace ddpm

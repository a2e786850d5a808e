// What both trainers (the diffusion model's and the autoencoder's) do with gradients between
// backward() and the optimizer step: the global norm with clipping, and the names of the
// gradients to find the first non-finite one (training/non_finite.h).
#pragma once
#include <torch/torch.h>

#include "training/non_finite.h"

namespace ddpm {

/// The global L2 norm of the gradients; when it is finite and clip > 0, the gradients are scaled
/// to norm at most `clip` exactly as torch::nn::utils::clip_grad_norm_ does (coefficient
/// clip / (norm + 1e-6), clamped to 1). A non-finite norm leaves them as they are, so the
/// caller can still find which one went non-finite (clip_grad_norm_ would turn them all NaN).
/// Contiguous float32 CPU gradients take one fused pass for the norm (summed in double) and one
/// to clip (kernels/gradient_norm_kernel.h); others go through LibTorch's norm and mul_.
double global_grad_norm(torch::nn::Module& model, double clip);

/// (parameter name, its gradient) for every parameter, in registration order.
NamedTensors named_gradients(torch::nn::Module& model);

/// A generator's state as hex text for state.json, and back (throws on malformed text).
std::string generator_state_hex(const torch::Generator& generator);
void restore_generator_state(torch::Generator& generator, const std::string& hex);

}  // namespace ddpm

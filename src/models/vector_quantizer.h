// The codebook quantizer of VQModel: diffusers 0.21.4 VectorQuantizer (src/diffusers/models/
// vae.py), the VQ-VAE bottleneck of van den Oord et al. 2017 as used by VQGAN and LDM: each latent
// vector is replaced by its nearest codebook entry (Euclidean, torch.cdist as diffusers), with the
// straight-through estimator z + sg[e − z] so the encoder receives the decoder's gradient.
//
//   VectorQuantizer q(256, 3);
//   auto out = q(z);           // z [B, 3, h, w] → out.quantized, out.indices [B, h, w]
//   auto loss = out.codebook_loss + 0.25 * out.commitment_loss;   // VQ-VAE eq. (3), less recon.
#pragma once
#include <torch/torch.h>

namespace ddpm {

struct QuantizerOutput {
  torch::Tensor quantized;  ///< [B, D, h, w]: the codebook vectors, straight-through
  torch::Tensor indices;    ///< int64 [B, h, w]
  /// VQ-VAE eq. (3)'s two other terms, as means: ‖sg[z] − e‖² moves the codebook, ‖z − sg[e]‖²
  /// (weighted by β) commits the encoder. diffusers' legacy=True weighs them the other way
  /// round; the trainer uses the paper's form.
  torch::Tensor codebook_loss, commitment_loss;
};

class VectorQuantizerImpl : public torch::nn::Module {
 public:
  VectorQuantizerImpl(int64_t num_embeddings, int64_t dim);
  /// z [B, D, h, w] → nearest codebook vectors
  QuantizerOutput forward(const torch::Tensor& z);
  torch::nn::Embedding embedding{nullptr};  ///< the codebook [num_embeddings, D]
};
TORCH_MODULE(VectorQuantizer);

}  // namespace ddpm

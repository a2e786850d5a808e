#include "models/vector_quantizer.h"

namespace ddpm {

VectorQuantizerImpl::VectorQuantizerImpl(int64_t num_embeddings, int64_t dim) {
  embedding = register_module("embedding", torch::nn::Embedding(num_embeddings, dim));
  // diffusers: self.embedding.weight.data.uniform_(-1.0 / n_e, 1.0 / n_e)
  torch::NoGradGuard no_grad;
  embedding->weight.uniform_(-1.0 / double(num_embeddings), 1.0 / double(num_embeddings));
}

QuantizerOutput VectorQuantizerImpl::forward(const torch::Tensor& z) {
  TORCH_CHECK(z.dim() == 4 && z.size(1) == embedding->weight.size(1),
              "VectorQuantizer expects [B, ", embedding->weight.size(1), ", h, w], got ",
              z.sizes());
  auto zl = z.permute({0, 2, 3, 1}).contiguous();                  // [B, h, w, D]
  auto flat = zl.view({-1, zl.size(3)});                           // [B·h·w, D]
  auto indices = torch::cdist(flat, embedding->weight).argmin(1);  // [B·h·w]
  auto e = embedding(indices).view(zl.sizes());                    // [B, h, w, D]
  QuantizerOutput out;
  out.codebook_loss = torch::mean((e - zl.detach()).pow(2));
  out.commitment_loss = torch::mean((zl - e.detach()).pow(2));
  out.quantized = (zl + (e - zl).detach()).permute({0, 3, 1, 2}).contiguous();  // [B, D, h, w]
  out.indices = indices.view({z.size(0), z.size(2), z.size(3)});
  return out;
}

}  // namespace ddpm

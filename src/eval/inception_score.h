// Inception Score (Salimans et al. 2016, §4): IS = exp(E_x KL(p(y|x) ‖ p(y))), computed on each
// of `splits` equal parts of the set and reported as mean and standard deviation over the parts —
// OpenAI's improved-gan inception_score.py (splits = 10) and torch-fidelity's isc.py. There p(y|x)
// is the softmax of pool3 · Wᵀ of the 2015 Inception's 1008-way classifier without its bias
// (torch-fidelity's "logits_unbiased"); with our Fashion-MNIST classifier it is its 10-way softmax,
// an in-domain score bounded by 10.
//
//   auto r = inception_score(logits, /*splits=*/10);   // logits [N, K]
#pragma once
#include <torch/torch.h>

namespace ddpm {

struct InceptionScore {
  double mean = 0;  ///< mean over splits of exp(E KL(p(y|x) ‖ p(y)))
  double std = 0;   ///< population standard deviation over splits (np.std, as the references)
  int64_t splits = 0;
};

/// IS of logits [N, K] (N ≥ splits ≥ 1); split i takes rows [i·N/splits, (i+1)·N/splits).
InceptionScore inception_score(const torch::Tensor& logits, int64_t splits = 10);

}  // namespace ddpm

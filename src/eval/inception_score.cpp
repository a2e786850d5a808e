#include "eval/inception_score.h"

#include <stdexcept>
#include <string>

namespace ddpm {

InceptionScore inception_score(const torch::Tensor& logits, int64_t splits) {
  if (logits.dim() != 2 || splits < 1 || logits.size(0) < splits)
    throw std::invalid_argument("Inception Score needs logits [N, K] with N >= splits >= 1, got " +
                                c10::str(logits.sizes()) +
                                " and splits = " + std::to_string(splits));
  auto log_p = torch::log_softmax(logits.to(torch::kCPU, torch::kFloat64), 1);  // log p(y|x)
  const int64_t n = log_p.size(0);
  std::vector<double> scores;
  for (int64_t i = 0; i < splits; ++i) {
    auto part = log_p.slice(0, i * n / splits, (i + 1) * n / splits);
    auto log_py = part.exp().mean(0).log();           // log p(y) over the split
    auto kl = (part.exp() * (part - log_py)).sum(1);  // KL(p(y|x) ‖ p(y)) per image
    scores.push_back(std::exp(kl.mean().item<double>()));
  }
  auto s = torch::tensor(scores, torch::kFloat64);
  return {s.mean().item<double>(), s.std(/*unbiased=*/false).item<double>(), splits};
}

}  // namespace ddpm

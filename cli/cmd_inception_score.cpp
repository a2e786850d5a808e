// ddpm inception-score A: the Inception Score of one image source (mean, std over splits), as
// JSON — with the FID Inception's 1008-way classifier under --inception, otherwise the
// Fashion-MNIST classifier's 10 classes.
#include <chrono>

#include <fmt/format.h>

#include "commands.h"
#include "eval/inception_score.h"
#include "eval_flags.h"

namespace ddpm::cli {

namespace {

struct IsFlags {
  std::string a;
  EvalFlags eval;
  int64_t splits = 10;
};

}  // namespace

Run add_inception_score(CLI::App& app) {
  auto flags = std::make_shared<IsFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand("inception-score",
                                 "Inception Score of an image set (mean, std), printed as JSON");
  cmd->add_option("A", f.a, "Image source (as for `ddpm fid`)")->required();
  add_eval_flags(*cmd, f.eval);
  cmd->add_option("--splits", f.splits, "Equal parts the score is averaged over (10)")
      ->check(CLI::PositiveNumber);

  return [flags]() -> int {
    auto& f = *flags;
    const auto start = std::chrono::steady_clock::now();
    std::vector<FeatureSource> sources{parse_feature_source(f.a)};
    auto net = feature_net_for(sources, f.eval);
    auto side = features_with_progress(sources[0], net.get(), f.eval);
    if (!side.logits.defined())
      throw std::invalid_argument(f.a +
                                  ": this features file holds no `logits`; the Inception "
                                  "Score needs them (write it with `ddpm features`)");
    const auto r = inception_score(side.logits, f.splits);
    const bool inception = side.feature_net == "fid-inception-v3";
    nlohmann::json out{
        {"metric", "IS"},
        {"mean", r.mean},
        {"std", r.std},
        {"splits", r.splits},
        {"classes", side.logits.size(1)},
        {"definition", inception ? "exp(E KL(p(y|x) || p(y))) with p(y|x) = softmax(pool3 . "
                                   "fc.weight^T), 1008 classes (improved-gan, torch-fidelity)"
                                 : "exp(E KL(p(y|x) || p(y))) with the Fashion-MNIST "
                                   "classifier's 10-way softmax (at most 10)"},
        {"features", feature_net_json(net.get(), {side})},
        {"a", side.description},
        {"seconds",
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
    fmt::print("{}\n", out.dump(2));
    return 0;
  };
}

}  // namespace ddpm::cli

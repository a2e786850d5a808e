#include "runs/state_dict_mapping.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

namespace ddpm {

namespace {

std::string list_some(const std::vector<std::string>& names) {
  const size_t shown = std::min<size_t>(names.size(), 8);
  std::vector<std::string> head(names.begin(), names.begin() + std::ptrdiff_t(shown));
  return fmt::format(
      "{}{}", fmt::join(head, ", "),
      names.size() > shown ? fmt::format(" and {} more", names.size() - shown) : std::string());
}

}  // namespace

TensorMap convert_state_dict(const TensorMap& original, const std::vector<ModuleMapping>& mapping,
                             const TensorMap& expected, const std::string& origin,
                             const std::string& format) {
  std::set<std::string> wanted;
  for (const auto& m : mapping)
    for (const char* p : {".weight", ".bias"}) wanted.insert(m.from + p);
  std::vector<std::string> unexpected, missing;
  for (const auto& [name, tensor] : original)
    if (!wanted.count(name)) unexpected.push_back(name);
  for (const auto& name : wanted)
    if (!original.count(name)) missing.push_back(name);
  if (!unexpected.empty() || !missing.empty())
    throw std::runtime_error(fmt::format(
        "{}: the weights do not match the architecture its config describes ({}):{}{}", origin,
        format, missing.empty() ? "" : fmt::format(" missing {}.", list_some(missing)),
        unexpected.empty() ? "" : fmt::format(" unexpected {}.", list_some(unexpected))));

  TensorMap out;
  auto put = [&](const std::string& from, const std::string& to, torch::Tensor t) {
    auto it = expected.find(to);
    if (it == expected.end())
      throw std::runtime_error(
          fmt::format("{}: {} maps to {}, which the configured UNet lacks", origin, from, to));
    if (t.sizes() != it->second.sizes())
      throw std::runtime_error(fmt::format(
          "{}: {} has shape [{}] where the architecture its config describes ({}) needs [{}]",
          origin, from, fmt::join(original.at(from).sizes(), ", "), format,
          fmt::join(it->second.sizes(), ", ")));
    out[to] = t;
  };
  for (const auto& m : mapping) {
    const auto& w = original.at(m.from + ".weight");
    const auto& b = original.at(m.from + ".bias");
    switch (m.transform) {
      case TensorTransform::copy:
        put(m.from + ".weight", m.to + ".weight", w);
        put(m.from + ".bias", m.to + ".bias", b);
        break;
      case TensorTransform::conv1x1_to_linear:
        if (w.dim() < 3 || w.numel() != w.size(0) * w.size(1))
          throw std::runtime_error(fmt::format("{}: {}.weight has shape [{}], not a 1x1 conv",
                                               origin, m.from, fmt::join(w.sizes(), ", ")));
        put(m.from + ".weight", m.to + ".weight", w.reshape({w.size(0), w.size(1)}));
        put(m.from + ".bias", m.to + ".bias", b);
        break;
      case TensorTransform::qkv_split: {
        // improved-diffusion AttentionBlock: qkv [3C, C, 1], reshaped to [B·heads, 3C/heads, T]
        // and split into q, k, v of C/heads channels per head (unet.py QKVAttention): rows of
        // head h are [h·3d, h·3d + d) for q, then k, then v, d = C/heads.
        const int64_t three_c = w.size(0);
        if (w.dim() != 3 || w.size(2) != 1 || three_c % (3 * m.heads) != 0 || b.numel() != three_c)
          throw std::runtime_error(
              fmt::format("{}: {}.weight has shape [{}], not a fused qkv 1x1 conv of {} heads",
                          origin, m.from, fmt::join(w.sizes(), ", "), m.heads));
        const int64_t C = three_c / 3, d = C / m.heads;
        auto w3 = w.reshape({m.heads, 3, d, w.size(1)});  // [heads, (q, k, v), d, C]
        auto b3 = b.reshape({m.heads, 3, d});
        const char* names[] = {"to_q", "to_k", "to_v"};
        for (int64_t k = 0; k < 3; ++k) {
          put(m.from + ".weight", m.to + "." + names[k] + ".weight",
              w3.select(1, k).reshape({C, w.size(1)}).contiguous());
          put(m.from + ".bias", m.to + "." + names[k] + ".bias",
              b3.select(1, k).reshape({C}).contiguous());
        }
        break;
      }
    }
  }
  return out;
}

}  // namespace ddpm

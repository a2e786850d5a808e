// Checks shared by the readers of diffusers config.json files (runs/diffusers_format.h,
// runs/autoencoder_format.h): an error names the file, the key and what is allowed.
#pragma once
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace ddpm {

inline void require(bool ok, const std::string& origin, const std::string& message) {
  if (!ok) throw std::invalid_argument(origin + ": " + message);
}

/// A diffusers-only key that must hold one of `allowed` (compared as JSON values); absent is fine
/// (its default is the first allowed value).
inline void require_choice(const nlohmann::json& config, const std::string& origin,
                           const std::string& key, const std::vector<nlohmann::json>& allowed,
                           const std::string& why) {
  auto it = config.find(key);
  if (it == config.end()) return;
  for (const auto& a : allowed)
    if (*it == a) return;
  std::vector<std::string> names;
  for (const auto& a : allowed) names.push_back(a.dump());
  throw std::invalid_argument(fmt::format("{}: {} = {} is not supported (allowed: {}); {}", origin,
                                          key, it->dump(), fmt::join(names, ", "), why));
}

}  // namespace ddpm

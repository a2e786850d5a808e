// CLI11 allowed-value checks taken from an enum's string table (core/enum_table.h), so a flag's
// choices are the spellings the library parses, never a retyped list.
//
//   cmd->add_option("--weights", f.weights)->check(enum_choices<WeightsKind>());
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "core/enum_table.h"

namespace ddpm {

/// The spellings of E, in the table's order.
template <typename E>
std::vector<std::string> enum_names() {
  std::vector<std::string> names;
  for (const auto& [value, name] : enum_table<E>().entries) names.emplace_back(name);
  return names;
}

/// A CLI11 validator accepting exactly E's spellings (its message lists them).
template <typename E>
CLI::IsMember enum_choices() {
  return CLI::IsMember(enum_names<E>());
}

}  // namespace ddpm

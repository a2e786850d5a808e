// One string table per enum (DESIGN rule 6), with parsing that names the allowed values.
//
//   template <> const EnumTable<BetaSchedule>& enum_table<BetaSchedule>();   // in
//   beta_schedule.cpp auto s = parse_enum<BetaSchedule>("linear");  to_string(s) == "linear"
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ddpm {

template <typename E>
struct EnumTable {
  const char* what;  ///< what the enum names, for error messages ("beta schedule")
  std::vector<std::pair<E, const char*>> entries;
};

/// Specialised once per enum, in the .cpp beside the enum's declaration.
template <typename E>
const EnumTable<E>& enum_table();

/// "a, b, c": the spellings an enum accepts.
template <typename E>
std::string allowed_values() {
  std::string out;
  for (const auto& [value, name] : enum_table<E>().entries) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

template <typename E>
std::string to_string(E value) {
  for (const auto& [v, name] : enum_table<E>().entries)
    if (v == value) return name;
  throw std::logic_error(std::string("unnamed value in enum ") + enum_table<E>().what);
}

/// Throws std::invalid_argument "unknown <what> 'x' (allowed: a, b, c)".
template <typename E>
E parse_enum(std::string_view text) {
  for (const auto& [value, name] : enum_table<E>().entries)
    if (text == name) return value;
  throw std::invalid_argument("unknown " + std::string(enum_table<E>().what) + " '" +
                              std::string(text) + "' (allowed: " + allowed_values<E>() + ")");
}

}  // namespace ddpm

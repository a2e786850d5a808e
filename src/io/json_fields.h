// Strict reading of plain config structs from JSON (DESIGN rule 5): every key is declared once,
// an unknown key or a value of the wrong type is an error naming what is allowed.
//
//   JsonFields in(json, "training");            // context names the section in messages
//   in.read("lr", config.lr);                   // optional: absent keys keep the in-class default
//   in.read_enum("loss", config.loss);          // enums through their one string table
//   in.finish();                                // throws on keys nobody read
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "core/enum_table.h"

namespace ddpm {

class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, std::string context)
      : object_(object), context_(std::move(context)) {
    if (!object_.is_object())
      throw std::invalid_argument(context_ + ": expected a JSON object, found " +
                                  std::string(object_.type_name()));
  }

  /// Reads `key` into `field` when present; `field` keeps its value otherwise.
  template <typename T>
  void read(const std::string& key, T& field) {
    known_.insert(key);
    auto it = object_.find(key);
    if (it == object_.end()) return;
    check_integers<T>(*it, key);
    try {
      field = it->template get<T>();
    } catch (const nlohmann::json::exception&) {
      throw std::invalid_argument(context_ + "." + key + ": expected " + type_name<T>() +
                                  ", found " + it->dump());
    }
  }

  template <typename T>
  void read(const std::string& key, std::optional<T>& field) {
    known_.insert(key);
    auto it = object_.find(key);
    if (it == object_.end()) return;
    if (it->is_null()) {
      field.reset();
      return;
    }
    T value{};
    read(key, value);
    field = value;
  }

  template <typename E>
  void read_enum(const std::string& key, E& field) {
    known_.insert(key);
    auto it = object_.find(key);
    if (it == object_.end()) return;
    if (!it->is_string())
      throw std::invalid_argument(context_ + "." + key + ": expected one of " +
                                  allowed_values<E>() + ", found " + it->dump());
    try {
      field = parse_enum<E>(it->template get<std::string>());
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(context_ + "." + key + ": " + e.what());
    }
  }

  /// The sub-object at `key`, or an empty object when absent (marks the key as known).
  nlohmann::json section(const std::string& key) {
    known_.insert(key);
    auto it = object_.find(key);
    return it == object_.end() ? nlohmann::json::object() : *it;
  }

  void ignore(const std::string& key) { known_.insert(key); }

  /// Has `key` been read or ignored?
  bool known(const std::string& key) const { return known_.count(key) > 0; }

  /// Throws std::invalid_argument when the object holds a key that no read() declared.
  void finish() const {
    for (const auto& item : object_.items()) {
      if (known_.count(item.key())) continue;
      std::string allowed;
      for (const auto& k : known_) allowed += (allowed.empty() ? "" : ", ") + k;
      throw std::invalid_argument(context_ + ": unknown key '" + item.key() +
                                  "' (allowed: " + allowed + ")");
    }
  }

 private:
  /// Integral fields (and lists of them) accept only JSON integers that fit the field's type:
  /// nlohmann would otherwise truncate 2.5 to 2 and convert 1e300 with undefined behaviour.
  template <typename T>
  void check_integers(const nlohmann::json& value, const std::string& key) const {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      const bool fits = value.is_number_unsigned()
                            ? value.get<std::uint64_t>() <=
                                  static_cast<std::uint64_t>(std::numeric_limits<T>::max())
                            : value.is_number_integer() &&
                                  value.get<std::int64_t>() >=
                                      static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
                                  (std::is_unsigned_v<T> ||
                                   value.get<std::int64_t>() <=
                                       static_cast<std::int64_t>(std::numeric_limits<T>::max()));
      if (!fits)
        throw std::invalid_argument(context_ + "." + key + ": expected an integer from " +
                                    std::to_string(std::numeric_limits<T>::min()) + " to " +
                                    std::to_string(std::numeric_limits<T>::max()) + ", found " +
                                    value.dump());
    } else if constexpr (is_vector<T>::value) {
      if (!value.is_array()) return;  // get<T>() reports the type
      for (const auto& element : value) check_integers<typename T::value_type>(element, key);
    }
  }

  template <typename T>
  struct is_vector : std::false_type {};
  template <typename U, typename A>
  struct is_vector<std::vector<U, A>> : std::true_type {};

  template <typename T>
  static std::string type_name() {
    if constexpr (std::is_same_v<T, bool>)
      return "true or false";
    else if constexpr (std::is_integral_v<T>)
      return "an integer";
    else if constexpr (std::is_floating_point_v<T>)
      return "a number";
    else if constexpr (std::is_same_v<T, std::string>)
      return "a string";
    else
      return "a list";
  }

  const nlohmann::json& object_;
  std::string context_;
  std::set<std::string> known_;
};

}  // namespace ddpm

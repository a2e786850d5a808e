// JSON as Python's json module writes it. Python spells non-finite floats as bare NaN,
// Infinity and -Infinity, which strict JSON parsers reject; real diffusers configs contain them
// ("lambda_min_clipped": -Infinity). parse_python_json turns each such token outside strings into
// the string "NaN", "Infinity" or "-Infinity", which the readers of real-valued keys accept.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

namespace ddpm {

/// Throws nlohmann::json::parse_error for text that is not JSON even so.
nlohmann::json parse_python_json(const std::string& text);

}  // namespace ddpm

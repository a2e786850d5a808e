// libFuzzer target: parse_python_json (src/io/python_json.cpp). Differential check: where
// nlohmann's strict parser accepts the text, parse_python_json returns the same value (the
// NaN/Infinity rewriting must not touch valid JSON), and what it returns dumps to strict JSON.
#include "fuzz_util.h"
#include "io/python_json.h"

using namespace ddpm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nlohmann::json python;
  try {
    python = parse_python_json(text);
  } catch (const std::exception&) {
    fuzz::check(!nlohmann::json::accept(text), "strict JSON is accepted");
    return 0;
  }
  if (nlohmann::json::accept(text))
    fuzz::check(python == nlohmann::json::parse(text), "strict JSON reads the same");
  const std::string dumped = python.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  fuzz::check(nlohmann::json::accept(dumped), "the result is strict JSON");
  return 0;
}

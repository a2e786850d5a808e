#include "io/python_json.h"

#include <cctype>

namespace ddpm {

nlohmann::json parse_python_json(const std::string& text) {
  std::string out;
  out.reserve(text.size() + 16);
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (in_string) {
      out += ch;
      if (ch == '\\' && i + 1 < text.size())
        out += text[++i];
      else if (ch == '"')
        in_string = false;
      continue;
    }
    if (ch == '"') {
      in_string = true;
      out += ch;
      continue;
    }
    bool replaced = false;
    for (const char* token : {"-Infinity", "Infinity", "NaN"}) {
      const std::string t = token;
      const bool ends_word = i + t.size() >= text.size() ||
                             !std::isalnum(static_cast<unsigned char>(text[i + t.size()]));
      if (text.compare(i, t.size(), t) == 0 && ends_word) {
        out += '"' + t + '"';
        i += t.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += ch;
  }
  return nlohmann::json::parse(out);
}

}  // namespace ddpm

#include "web/web_assets.h"

#include <map>

#include "io/atomic_file.h"

namespace ddpm {

// cmake/embed_web_assets.cmake
const std::map<std::string, std::string_view>& embedded_web_assets();

namespace {

std::string_view content_type_of(const std::string& name) {
  auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

}  // namespace

std::optional<WebAsset> find_web_asset(const std::string& name) {
  const auto& assets = embedded_web_assets();
  const auto it = assets.find(name);
  if (it == assets.end()) return std::nullopt;
  return WebAsset{it->second, content_type_of(name)};
}

std::vector<std::string> web_asset_names() {
  std::vector<std::string> names;
  for (const auto& [name, body] : embedded_web_assets()) names.push_back(name);
  return names;
}

void write_report_assets(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  for (const char* name : {"charts.js", "report.js", "page.css", "chart.min.js"}) {
    const auto asset = find_web_asset(name);
    if (!asset) throw std::logic_error(std::string("web asset missing from the build: ") + name);
    write_file_atomic(dir / name, asset->body);
  }
}

}  // namespace ddpm

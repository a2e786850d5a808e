// The files of ddpm's web pages, compiled into the library (cmake/embed_web_assets.cmake): the
// dashboard of `ddpm serve` (dashboard.html, dashboard.js), the static report pages of
// `ddpm study` and `ddpm sweep` (report.js), the chart code both draw with (charts.js), their
// style sheet (page.css) and Chart.js itself (chart.min.js, from Debian's libjs-chart.js). No
// page loads anything from the network.
//
//   if (auto asset = find_web_asset("charts.js")) send(asset->body, asset->content_type);
//   write_web_assets("study/assets");   // what a static page next to it needs
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ddpm {

struct WebAsset {
  std::string_view body;
  std::string_view content_type;  ///< from the file name's extension
};

/// The asset named `name` (a bare file name such as "charts.js"), or nullopt.
std::optional<WebAsset> find_web_asset(const std::string& name);

/// The names of every asset, sorted.
std::vector<std::string> web_asset_names();

/// Writes what a static report page loads (charts.js, report.js, page.css, chart.min.js) into
/// `dir`, creating it; each file atomically.
void write_report_assets(const std::filesystem::path& dir);

}  // namespace ddpm

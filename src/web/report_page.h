// A static page drawn by the dashboard's page code: `ddpm study` writes DIR/index.html and
// `ddpm sweep` DIR/index.html with it. The charts are described as JSON (the spec of
// page/charts.js) and drawn in the browser by Chart.js from DIR/assets/, so the folder alone
// renders anywhere, offline, and can be copied or zipped as is.
//
//   ReportPage page{"Sweep", "<h1>Sweep</h1><div class=\"chart\" data-chart=\"fd\"></div>"};
//   page.charts.push_back(line_chart("fd", "FD vs steps", "steps", "FD", {series...}));
//   write_report_page("sweep/", page);   // sweep/index.html + sweep/assets/
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "io/plot.h"

namespace ddpm {

struct ChartSeries {
  std::string label;
  std::vector<double> x;  ///< same length as y; non-finite y break the line
  std::vector<double> y;
  int color = 0;       ///< palette index (Tab10)
  bool faint = false;  ///< behind the others at 25 % opacity (a raw curve under its smoothing)
  bool in_legend = true;
  /// When set, this colour instead of the palette's ("rgb(0, 0, 0)", "rgba(0, 0, 0, 0.25)").
  std::string css_color;
};

struct ChartSpec {
  std::string id;  ///< drawn into <div class="chart" data-chart="ID">, appended when absent
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_y = false;
  std::vector<ChartSeries> series;
};

/// The chart of a PNG plot (io/plot.h): the same series, colours, labels and axes, so that a
/// page and its PNG show one description.
ChartSpec chart_of_plot(const std::string& id, const Plot& plot);

/// The spec as page/charts.js reads it. Throws std::invalid_argument when a series' x and y
/// differ in length.
nlohmann::json chart_json(const ChartSpec& chart);

struct ReportPage {
  std::string title;      ///< plain text (escaped)
  std::string body_html;  ///< the page's own HTML, trusted (callers escape what they insert)
  std::vector<ChartSpec> charts;
};

/// The HTML of the page; its scripts and style sheet are loaded from assets/.
std::string report_page_html(const ReportPage& page);

/// Writes DIR/index.html and DIR/assets/ (web/web_assets.h), each file atomically.
void write_report_page(const std::filesystem::path& dir, const ReportPage& page);

/// Text with &, <, >, " and ' escaped for HTML.
std::string html_escape(const std::string& text);

}  // namespace ddpm

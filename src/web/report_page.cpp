#include "web/report_page.h"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "io/atomic_file.h"
#include "web/web_assets.h"

namespace ddpm {

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

ChartSpec chart_of_plot(const std::string& id, const Plot& plot) {
  ChartSpec chart{id, plot.title, plot.x_label, plot.y_label, plot.log_y, {}};
  for (const auto& s : plot.series) {
    ChartSeries series{s.name, s.x, s.y, 0, s.opacity < 0.5, s.in_legend};
    // The plot's opacity too: its faint raw curves stay faint on the page.
    const std::string rgb = std::to_string(s.color[0]) + ", " + std::to_string(s.color[1]) + ", " +
                            std::to_string(s.color[2]);
    series.css_color =
        s.opacity >= 1 ? "rgb(" + rgb + ")" : fmt::format("rgba({}, {:g})", rgb, s.opacity);
    chart.series.push_back(std::move(series));
  }
  return chart;
}

nlohmann::json chart_json(const ChartSpec& chart) {
  nlohmann::json series = nlohmann::json::array();
  for (const auto& s : chart.series) {
    if (s.x.size() != s.y.size())
      throw std::invalid_argument("chart " + chart.id + ", series " + s.label + ": " +
                                  std::to_string(s.x.size()) + " x values but " +
                                  std::to_string(s.y.size()) + " y values");
    nlohmann::json points = nlohmann::json::array();
    for (size_t i = 0; i < s.x.size(); ++i)
      points.push_back({s.x[i], std::isfinite(s.y[i]) ? nlohmann::json(s.y[i]) : nullptr});
    series.push_back({{"label", s.label},
                      {"points", points},
                      {"color", s.color},
                      {"css", s.css_color},
                      {"faint", s.faint},
                      {"inLegend", s.in_legend}});
  }
  return {{"id", chart.id},          {"title", chart.title}, {"xLabel", chart.x_label},
          {"yLabel", chart.y_label}, {"logY", chart.log_y},  {"series", series}};
}

std::string report_page_html(const ReportPage& page) {
  nlohmann::json charts = nlohmann::json::array();
  for (const auto& c : page.charts) charts.push_back(chart_json(c));
  // Inside <script>, "</" would end the element: JSON allows "<\/" for it.
  std::string data = nlohmann::json{{"charts", charts}}.dump();
  for (size_t at = 0; (at = data.find("</", at)) != std::string::npos; at += 3)
    data.replace(at, 2, "<\\/");
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<title>" + html_escape(page.title) + "</title>\n";
  h += "<link rel=\"stylesheet\" href=\"assets/page.css\">\n";
  h +=
      "<script src=\"assets/chart.min.js\"></script>\n<script src=\"assets/charts.js\"></script>\n";
  h += "</head>\n<body>\n<div class=\"report\">\n" + page.body_html + "</div>\n";
  h += "<script type=\"application/json\" id=\"ddpm-report\">" + data + "</script>\n";
  h += "<pre id=\"ddpm-summary\" hidden></pre>\n";
  h += "<script src=\"assets/report.js\"></script>\n</body>\n</html>\n";
  return h;
}

void write_report_page(const std::filesystem::path& dir, const ReportPage& page) {
  write_report_assets(dir / "assets");
  write_file_atomic(dir / "index.html", report_page_html(page));
}

}  // namespace ddpm

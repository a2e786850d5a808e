#include "experiments/study_report.h"

#include <fstream>

#include <fmt/format.h>

#include "io/atomic_file.h"
#include "web/report_page.h"

namespace ddpm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Small images are drawn enlarged (nearest neighbour) so that a 32-px sample is visible.
int64_t zoom_for(int64_t image_size) {
  return image_size >= 64 ? 1 : std::max<int64_t>(1, 64 / std::max<int64_t>(image_size, 1));
}

// Width and height from a PNG's IHDR chunk (bytes 16–23, big-endian); {0, 0} when unreadable.
std::pair<int64_t, int64_t> png_size(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char b[24] = {};
  if (!in.read(reinterpret_cast<char*>(b), 24) || b[1] != 'P' || b[2] != 'N' || b[3] != 'G')
    return {0, 0};
  auto be32 = [&](int at) {
    return (int64_t(b[at]) << 24) | (int64_t(b[at + 1]) << 16) | (int64_t(b[at + 2]) << 8) |
           int64_t(b[at + 3]);
  };
  return {be32(16), be32(20)};
}

std::string img(const fs::path& dir, const std::string& path, const std::string& alt,
                int64_t zoom) {
  const auto [w, h] = png_size(dir / path);
  const std::string size =
      w > 0 ? fmt::format(R"( width="{}" height="{}")", w * zoom, h * zoom) : std::string();
  return fmt::format(R"(<a href="{0}"><img src="{0}" alt="{1}"{2}></a>)", html_escape(path),
                     html_escape(alt), size);
}

std::string study_body_html(const StudyResult& r) {
  const auto& c = r.config;
  const int64_t zoom = zoom_for(r.image_size);
  std::string h;
  h += "<h1>Study: " + html_escape(fmt::format("{}", fmt::join(c.variants, ", "))) + "</h1>\n";
  h += fmt::format(
      "<p>Data <code>{}</code> ({} training / {} validation images, {}×{}×{}), seed {}, "
      "{} diffusion steps. Every variant trained with the same data, seed and step budget; "
      "every figure below starts from the same initial noise x<sub>T</sub>, and every DDPM chain "
      "draws the same noise, so the differences are the models'.</p>\n",
      html_escape(c.data), r.train_images, r.validation_images, r.channels, r.image_size,
      r.image_size, c.seed, r.num_train_timesteps);

  h += "<h2>Training</h2>\n<table>\n<tr><th>variant</th><th>steps</th><th>parameters</th>"
       "<th>final loss</th><th>smoothed</th><th>last training grid</th></tr>\n";
  for (const auto& v : r.variants) {
    h += fmt::format(
        "<tr><td><a href=\"{0}/config.json\">{0}</a></td><td>{1}</td><td>{2:.2f}M</td>"
        "<td>{3:.4f}</td><td>{4:.4f}</td><td>{5}</td></tr>\n",
        html_escape(v.name), v.steps, double(v.parameters) / 1e6, v.final_loss, v.final_smoothed,
        v.latest_training_grid.empty()
            ? std::string("none")
            : img(r.dir, v.latest_training_grid, v.name + " training grid", 1));
  }
  h += "</table>\n";
  h += "<h2>Loss</h2>\n<div class=\"chart\" data-chart=\"loss\"></div>\n";
  h += fmt::format(
      "<p class=\"note\">Raw loss (faint) and TensorBoard's debiased exponential smoothing with "
      "weight {} (solid). Numbers: <a href=\"loss.csv\">loss.csv</a>; the same as a picture: "
      "<a href=\"loss.png\">loss.png</a>.</p>\n",
      c.smoothing);

  h += "<h2>Samples: EMA against raw weights</h2>\n";
  for (const auto& kind : r.figure_kinds) {
    h += "<h3>" + html_escape(kind.title) + "</h3>\n<p class=\"note\">" + html_escape(kind.notes) +
         "</p>\n<table>\n<tr><th>variant</th><th>EMA weights</th><th>raw weights</th></tr>\n";
    for (const auto& v : r.variants) {
      h += "<tr><th>" + html_escape(v.name) + "</th>";
      for (const char* w : {"ema", "raw"}) {
        auto wi = v.figures.find(w);
        std::string cell = "missing";
        if (wi != v.figures.end())
          if (auto ki = wi->second.find(kind.key); ki != wi->second.end())
            cell = img(r.dir, ki->second, v.name + " " + w + " " + kind.title, zoom);
        h += "<td>" + cell + "</td>";
      }
      h += "</tr>\n";
    }
    h += "</table>\n";
  }
  h += "<p class=\"note\">Written by <code>ddpm study</code>; the numbers behind each picture are "
       "in the .json file beside it and in <a href=\"study.json\">study.json</a>. "
       "<code>ddpm serve DIR</code> shows the variants' runs live.</p>\n";
  return h;
}

ReportPage study_page(const StudyResult& r) {
  const std::string variants = fmt::format("{}", fmt::join(r.config.variants, ", "));
  return {"ddpm study: " + variants, study_body_html(r), {chart_of_plot("loss", r.loss_plot)}};
}

}  // namespace

std::string study_index_html(const StudyResult& r) {
  return report_page_html(study_page(r));
}

json study_json(const StudyResult& r) {
  const auto& c = r.config;
  json variants = json::array();
  for (const auto& v : r.variants)
    variants.push_back({{"name", v.name},
                        {"run_dir", v.name},
                        {"steps", v.steps},
                        {"reused", v.reused},
                        {"parameters", v.parameters},
                        {"final_loss", v.final_loss},
                        {"final_smoothed_loss", v.final_smoothed},
                        {"train_seconds", v.train_seconds},
                        {"figures", v.figures},
                        {"latest_training_grid", v.latest_training_grid}});
  json kinds = json::array();
  for (const auto& k : r.figure_kinds)
    kinds.push_back({{"key", k.key}, {"title", k.title}, {"notes", k.notes}});
  return {{"data", c.data},
          {"variants", variants},
          {"budget", c.budget},
          {"seed", c.seed},
          {"image_size", r.image_size},
          {"channels", r.channels},
          {"train_images", r.train_images},
          {"validation_images", r.validation_images},
          {"num_train_timesteps", r.num_train_timesteps},
          {"grid_images", c.grid_images},
          {"strip_images", c.strip_images},
          {"smoothing", c.smoothing},
          {"config_patch", c.patch},
          {"figure_kinds", kinds},
          {"loss_plot", "loss.png"},
          {"loss_csv", "loss.csv"}};
}

void write_study_report(const fs::path& dir, const StudyResult& result) {
  fs::create_directories(dir);
  write_report_page(dir, study_page(result));
  write_file_atomic(dir / "study.json", study_json(result).dump(2) + "\n");
}

}  // namespace ddpm

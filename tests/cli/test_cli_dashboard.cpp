// `ddpm serve` in a real browser (issue 18): headless Chromium loads the dashboard from a live
// server while `ddpm train` is still writing one run and a second, finished run is served beside
// it. Checked from what the page itself reports (its #ddpm-summary, written from the charts it
// drew): two runs overlaid in every chart (raw + smoothed loss per run, one legend entry each),
// as many points as the log had complete rows, the newest grid shown and replaced by a newer one
// once the trainer writes it, the configs' differences found; and path escapes refused. Then
// the page `ddpm sweep` writes, drawn by the same page code from its own folder.
// Runs when Chromium is installed (scripts/setup.sh installs it).
#include <signal.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "cli_runner.h"
#include "http_get.h"
#include "io/image.h"
#include "test_util.h"
#include "web/run_folder.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::contains;
using test::read_bytes;
using test::run_ddpm;

std::string find_chromium() {
  for (const char* candidate : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (access(candidate, X_OK) == 0) return candidate;
  return "";
}

/// The page as Chromium left it after running its scripts for `budget_ms` of virtual time.
std::string dump_dom(const std::string& chromium, const std::string& url, const fs::path& profile) {
  const std::string command =
      test::shell_quote(chromium) +
      " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run "
      "--disable-extensions --user-data-dir=" +
      test::shell_quote(profile.string()) + " --virtual-time-budget=5000 --dump-dom " +
      test::shell_quote(url) + " 2>/dev/null";
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  char buffer[65536];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  pclose(pipe);
  return out;
}

/// The JSON the page wrote into <pre id="ddpm-summary">.
nlohmann::json page_summary(const std::string& dom) {
  std::smatch match;
  if (!std::regex_search(dom, match, std::regex(R"(<pre id="ddpm-summary"[^>]*>([^<]*)</pre>)")))
    return nullptr;
  std::string text = match[1];
  for (const auto& [entity, character] : std::vector<std::pair<std::string, std::string>>{
           {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}})
    for (size_t at; (at = text.find(entity)) != std::string::npos;)
      text.replace(at, entity.size(), character);
  return nlohmann::json::parse(text, nullptr, false);
}

int64_t newest_grid_step(const fs::path& run) {
  const auto grids = list_grids(run);
  return grids.empty() ? -1 : grids.back().step;
}

const nlohmann::json* series_named(const nlohmann::json& chart, const std::string& label) {
  for (const auto& s : chart["series"])
    if (s["label"] == label) return &s;
  return nullptr;
}

TEST(CliDashboard, ChromiumShowsLiveAndFinishedRunsOverlaid) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "Chromium is not installed (scripts/setup.sh installs it)";
  test::TempDir dir;
  torch::manual_seed(3);
  const fs::path images = dir.path / "images";
  fs::create_directories(images);
  for (int i = 0; i < 8; ++i)
    write_png(images / fmt::format("{}.png", i),
              torch::randint(0, 256, {1, 32, 32}, torch::kUInt8));  // what `sweep` measures
  auto config = [&](int64_t sample_every, double lr) {
    const fs::path path = dir.path / fmt::format("tiny-{}.json", sample_every);
    std::ofstream(path) << nlohmann::json{{"model", test::tiny_model_json()},
                                          {"training",
                                           {{"batch_size", 4},
                                            {"lr", lr},
                                            {"log_every", 1},
                                            {"sample_every", sample_every},
                                            {"sample_images", 4},
                                            {"sample_steps", 2},
                                            {"checkpoint_every", 100000},
                                            {"threads", 1}}}};
    return path.string();
  };
  // A finished run...
  const fs::path finished = dir.path / "finished";
  auto r = run_ddpm({"train", "--data", images.string(), "--image-size", "32", "--config",
                     config(3, 2e-4), "--out", finished.string(), "--steps", "6"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // ... and one still training when the browser looks.
  const fs::path live = dir.path / "live";
  const pid_t trainer =
      test::spawn_ddpm({"train", "--data", images.string(), "--image-size", "32", "--config",
                        config(40, 1e-3), "--out", live.string(), "--steps", "100000"},
                       (dir.path / "train.log").string());
  ASSERT_TRUE(test::wait_for_log_row(live, 1)) << read_bytes(dir.path / "train.log");
  const fs::path serve_log = dir.path / "serve.log";
  const pid_t server = test::spawn_ddpm({"serve", live.string(), finished.string(), "--port", "0"},
                                        serve_log.string());
  int port = 0;
  for (int i = 0; i < 300 && !port; ++i) {
    std::smatch match;
    const std::string log = read_bytes(serve_log);
    if (std::regex_search(log, match, std::regex(R"(http://127\.0\.0\.1:(\d+)/)")))
      port = std::stoi(match[1]);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(port, 0) << read_bytes(serve_log);
  const std::string url = fmt::format("http://127.0.0.1:{}/", port);
  for (int i = 0; i < 600 && newest_grid_step(live) < 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_GE(newest_grid_step(live), 40) << read_bytes(dir.path / "train.log");

  const int64_t rows_before = read_log_table(live / "log.csv").complete_rows;
  const int64_t grid_before = newest_grid_step(live);
  const auto first = page_summary(dump_dom(chromium, url, dir.path / "profile"));
  const int64_t rows_after = read_log_table(live / "log.csv").complete_rows;
  const int64_t grid_after = newest_grid_step(live);
  ASSERT_TRUE(first.is_object()) << "no summary in the page";

  // Both runs, in their states.
  ASSERT_EQ(first["runs"].size(), 2u) << first.dump();
  EXPECT_EQ(first["runs"][0]["id"], "live");
  EXPECT_EQ(first["runs"][0]["status"], "running");
  EXPECT_EQ(first["runs"][1]["id"], "finished");
  EXPECT_EQ(first["runs"][1]["status"], "finished");
  // The loss chart: raw and smoothed per run, one legend entry per run; every complete row.
  const auto& loss = first["charts"]["loss"];
  ASSERT_EQ(loss["series"].size(), 4u) << loss.dump();
  int legend = 0;
  for (const auto& s : loss["series"]) legend += s["inLegend"].get<bool>();
  EXPECT_EQ(legend, 2);
  const auto* live_loss = series_named(loss, "live");
  const auto* finished_loss = series_named(loss, "finished");
  ASSERT_TRUE(live_loss && finished_loss) << loss.dump();
  EXPECT_EQ((*finished_loss)["points"], 6) << "log_every 1, 6 steps";
  EXPECT_GE((*live_loss)["points"].get<int64_t>(), rows_before);
  EXPECT_LE((*live_loss)["points"].get<int64_t>(), rows_after);
  for (const char* chart : {"lr", "grad_norm", "images_per_s"}) {
    ASSERT_TRUE(first["charts"].contains(chart)) << chart;
    EXPECT_EQ(first["charts"][chart]["series"].size(), 2u) << chart;
  }
  // The newest grid of each run is shown.
  const std::string shown = first["grids"]["live"];
  const int64_t shown_step = std::stoll(shown.substr(shown.find('_') + 1));
  EXPECT_GE(shown_step, grid_before);
  EXPECT_LE(shown_step, grid_after);
  EXPECT_EQ(first["grids"]["finished"], "samples/step_000006.png");
  // The configs differ in the learning rate and the grid interval, and the page says so.
  const auto differing = first["differingKeys"];
  EXPECT_NE(std::find(differing.begin(), differing.end(), "training.lr"), differing.end())
      << differing.dump();
  EXPECT_NE(std::find(differing.begin(), differing.end(), "training.sample_every"),
            differing.end());

  // The trainer writes a newer grid; the page shows it.
  for (int i = 0; i < 600 && newest_grid_step(live) <= shown_step; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const int64_t newer = newest_grid_step(live);
  ASSERT_GT(newer, shown_step) << read_bytes(dir.path / "train.log");
  const auto second = page_summary(dump_dom(chromium, url, dir.path / "profile"));
  ASSERT_TRUE(second.is_object());
  const std::string shown_now = second["grids"]["live"];
  EXPECT_GE(std::stoll(shown_now.substr(shown_now.find('_') + 1)), newer) << shown_now;
  EXPECT_GT((*series_named(second["charts"]["loss"], "live"))["points"].get<int64_t>(),
            (*live_loss)["points"].get<int64_t>());

  // Read-only, and nothing outside the served runs.
  for (const char* target : {"/runs/live/../../../../etc/passwd", "/runs/live/%2e%2e/images/0.png",
                             "/runs/finished/..%2f..%2fetc%2fpasswd"}) {
    const auto reply = test::http_get(port, target);
    EXPECT_TRUE(reply.status == 403 || reply.status == 404) << target << ": " << reply.status;
  }
  EXPECT_EQ(test::http_get(port, "/runs/live/config.json").status, 200);

  kill(trainer, SIGINT);
  EXPECT_EQ(test::wait_for(trainer), 130);
  kill(server, SIGINT);
  EXPECT_EQ(test::wait_for(server), 0) << read_bytes(serve_log);

  // `ddpm sweep`'s page draws its charts with the same page code, from its own folder (file://,
  // no server): FD and KID, one series per sampler setting family.
  const fs::path sweep = dir.path / "sweep";
  r = run_ddpm({"sweep", "--model", finished.string(), "--steps", "2,3", "--eta", "0,1", "--n", "8",
                "--ref", images.string(), "--kid-subsets", "2", "--kid-subset-size", "4", "--out",
                sweep.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto report = page_summary(
      dump_dom(chromium, "file://" + (sweep / "index.html").string(), dir.path / "profile"));
  ASSERT_TRUE(report.is_object()) << "no summary in the sweep page";
  for (const char* chart : {"fd", "kid"}) {
    ASSERT_TRUE(report["charts"].contains(chart)) << report.dump();
    ASSERT_EQ(report["charts"][chart]["series"].size(), 2u) << "ddim eta=0 and eta=1";
    EXPECT_EQ(report["charts"][chart]["series"][0]["points"], 2) << "2 and 3 steps";
  }
}

}  // namespace
}  // namespace ddpm

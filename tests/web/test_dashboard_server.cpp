// The dashboard's server, over real HTTP on a free loopback port: the page and its assets, the
// runs and their complete log rows, the grids, and refusals: path escapes (raw, percent-encoded,
// through a link), unknown runs, requests that would write.
#include "web/dashboard_server.h"

#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "http_get.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::http_get;

struct DashboardServerTest : ::testing::Test {
  test::TempDir dir;
  std::unique_ptr<DashboardServer> server;
  std::thread thread;
  int port = 0;

  void make_run(const fs::path& run, const std::string& log) {
    fs::create_directories(run / "samples");
    std::ofstream(run / "config.json") << R"({"training": {"steps": 4, "lr": 0.001}})";
    std::ofstream(run / "log.csv") << log;
  }

  void SetUp() override {
    make_run(dir.path / "runs" / "a",
             "step,loss,lr,grad_norm,images_per_s,seconds\n1,0.9,0.001,2,50,0.1\n2,0.8,0.001,2,"
             "50,0.2\n3,0.7");
    make_run(dir.path / "runs" / "b", "step,loss,lr,grad_norm,images_per_s,seconds\n");
    std::ofstream(dir.path / "runs" / "a" / "samples" / "step_000002.png") << "grid bytes";
    std::ofstream(dir.path / "secret.txt") << "secret";
    fs::create_symlink(dir.path / "secret.txt", dir.path / "runs" / "a" / "samples" / "link.png");
    server = std::make_unique<DashboardServer>(std::vector<fs::path>{dir.path / "runs"},
                                               DashboardOptions{"127.0.0.1", 0});
    port = server->bind();
    thread = std::thread([this] { server->serve(); });
  }
  void TearDown() override {
    server->stop();
    thread.join();
  }
};

TEST_F(DashboardServerTest, ServesThePageItsAssetsAndTheRuns) {
  auto page = http_get(port, "/");
  ASSERT_EQ(page.status, 200) << "server on port " << port;
  EXPECT_NE(page.body.find("assets/dashboard.js"), std::string::npos);
  auto chart = http_get(port, "/assets/chart.min.js");
  EXPECT_EQ(chart.status, 200);
  EXPECT_NE(chart.body.find("Chart.js v3"), std::string::npos) << "Debian's Chart.js, built in";
  EXPECT_EQ(http_get(port, "/assets/charts.js").status, 200);
  EXPECT_EQ(http_get(port, "/assets/nothing.js").status, 404);

  const auto runs = nlohmann::json::parse(http_get(port, "/api/runs").body)["runs"];
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0]["id"], "a");
  EXPECT_EQ(runs[0]["rows"], 2) << "the half-written row 3 is not counted";
  EXPECT_EQ(runs[0]["state"]["status"], "failed");
  EXPECT_EQ(runs[0]["grids"][0]["file"], "samples/step_000002.png");
  EXPECT_EQ(runs[1]["config"]["training"]["lr"], 0.001);

  const auto log = nlohmann::json::parse(http_get(port, "/api/runs/a/log?from=1").body);
  ASSERT_EQ(log["rows"].size(), 1u);
  EXPECT_EQ(log["rows"][0][0], 2);
  EXPECT_EQ(log["columns"][1], "loss");
  EXPECT_EQ(http_get(port, "/api/runs/a/log?from=x").status, 400);
  EXPECT_EQ(http_get(port, "/api/runs/zz/log").status, 404);

  const auto grid = http_get(port, "/runs/a/samples/step_000002.png");
  EXPECT_EQ(grid.status, 200);
  EXPECT_EQ(grid.body, "grid bytes");
  EXPECT_NE(grid.headers.find("image/png"), std::string::npos);

  // The trainer finishes the row: the next poll sees it.
  std::ofstream(dir.path / "runs" / "a" / "log.csv", std::ios::app) << ",0.001,2,50,0.3\n";
  const auto again = nlohmann::json::parse(http_get(port, "/api/runs/a/log?from=2").body);
  ASSERT_EQ(again["rows"].size(), 1u);
  EXPECT_EQ(again["rows"][0][0], 3);
}

TEST_F(DashboardServerTest, RefusesPathsOutsideTheRunsAndWrites) {
  for (const char* target : {"/runs/a/../../secret.txt", "/runs/a/samples/../../../secret.txt",
                             "/runs/a/%2e%2e/%2e%2e/secret.txt", "/runs/a/samples/link.png",
                             "/runs/a/..%2f..%2fsecret.txt"}) {
    const auto reply = http_get(port, target);
    EXPECT_TRUE(reply.status == 403 || reply.status == 404) << target << ": " << reply.status;
    EXPECT_EQ(reply.body.find("secret"), std::string::npos) << target;
  }
  EXPECT_EQ(http_get(port, "/runs/a/samples/link.png").status, 403);
  EXPECT_EQ(http_get(port, "/runs/a/%2e%2e/%2e%2e/secret.txt").status, 403);
  EXPECT_EQ(http_get(port, "/runs/a/samples/none.png").status, 404);
  EXPECT_EQ(http_get(port, "/runs/nobody/config.json").status, 404);
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    const auto reply = test::http_request(port, method, "/runs/a/config.json");
    EXPECT_GE(reply.status, 400) << method;
  }
  EXPECT_TRUE(fs::exists(dir.path / "runs" / "a" / "config.json"));
}

TEST(DashboardServer, ArgumentsAndAddressesAreChecked) {
  test::TempDir dir;
  EXPECT_THROW(DashboardServer({dir.path / "nowhere"}, {}), std::invalid_argument);
  // A folder the trainer has not written yet is served, and its run appears once it is one.
  fs::create_directories(dir.path / "run");
  DashboardServer early({dir.path / "run"}, {"127.0.0.1", 0});
  EXPECT_TRUE(early.runs().empty());
  std::ofstream(dir.path / "run" / "config.json") << "{}";
  std::ofstream(dir.path / "run" / "log.csv") << "step,loss\n";
  ASSERT_EQ(early.runs().size(), 1u);
  EXPECT_EQ(early.runs()[0].first, "run");
  DashboardServer first({dir.path / "run"}, {"127.0.0.1", 0});
  const int port = first.bind();
  DashboardServer second({dir.path / "run"}, {"127.0.0.1", port});
  try {
    second.bind();
    FAIL() << "the port is taken";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(port)), std::string::npos) << e.what();
  }
  DashboardServer foreign({dir.path / "run"}, {"192.0.2.1", 0});  // TEST-NET: not ours
  EXPECT_THROW(foreign.bind(), std::runtime_error);
}

}  // namespace
}  // namespace ddpm

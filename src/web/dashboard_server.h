// The HTTP server behind `ddpm serve`: the dashboard page and what it polls, for the run folders
// it is given (or the run folders inside them, found again on every request, so that a run
// started later in a served folder of runs appears). Read-only: GET requests, files of the served
// runs only (web/served_path.h: `..` and links out are refused with 403).
//
//   GET /                              the dashboard (web/page/dashboard.html)
//   GET /assets/NAME                   its scripts, style sheet and Chart.js (web/web_assets.h)
//   GET /api/runs                      {"runs": [run_overview...]} (web/run_folder.h)
//   GET /api/runs/ID/log?from=N        {"columns", "from", "rows"}: complete log rows from row N
//   GET /runs/ID/PATH                  a file of run ID (its sample grids)
//
//   DashboardServer server({"runs/a", "runs/b"}, {"127.0.0.1", 6006});
//   const int port = server.bind();   // throws naming the address when it cannot
//   server.serve();                   // until stop() (from another thread or a signal watcher)
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace ddpm {

struct DashboardOptions {
  std::string host = "127.0.0.1";  ///< loopback only unless asked
  int port = 6006;                 ///< TensorBoard's; 0 picks a free one
};

class DashboardServer {
 public:
  /// Throws std::invalid_argument when a root is not a folder. A folder without runs yet is
  /// served: a run appears as soon as `ddpm train` has written config.json and log.csv there.
  DashboardServer(std::vector<std::filesystem::path> roots, DashboardOptions options);
  ~DashboardServer();
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  /// Binds the address; returns the port. Throws std::runtime_error naming host:port when the
  /// address cannot be bound (taken, or not an address of this machine).
  int bind();
  /// Answers requests until stop(). bind() first.
  void serve();
  /// Makes serve() return; safe from any thread.
  void stop();

  /// The runs as the page names them (a folder's name, made unique with "-2", "-3"...).
  std::vector<std::pair<std::string, std::filesystem::path>> runs() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ddpm

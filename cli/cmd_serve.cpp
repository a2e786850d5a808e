// ddpm serve RUN_DIR... [--port 6006] [--host 127.0.0.1]: a live dashboard of training runs in
// the browser (web/dashboard_server.h): loss, lr, gradient norm, images/s and evaluation metrics
// against step, several runs overlaid, sample grids with a step slider, the configs with their
// differences, each run's state and ETA. Reads the run folders only; Ctrl-C stops it.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.h"
#include "stop_signals.h"
#include "web/dashboard_server.h"

namespace ddpm::cli {

namespace {

struct ServeFlags {
  std::vector<std::string> runs;
  DashboardOptions options;
};

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

Run add_serve(CLI::App& app) {
  auto flags = std::make_shared<ServeFlags>();
  auto& f = *flags;
  auto* cmd = app.add_subcommand(
      "serve", "Live dashboard of training runs in the browser: curves, grids, configs, state");
  cmd->footer(
      "Give run folders (what ddpm train --out writes) or folders of runs (a study's folder); "
      "runs started later inside a served folder of runs appear on their own. The page re-reads "
      "the folders every 2 s while ddpm train writes them, works offline (Chart.js is built in), "
      "and the server only reads: files outside the served runs are refused. "
      "Example: ddpm serve runs/ --port 6006, then open http://127.0.0.1:6006/");
  cmd->add_option("RUN_DIR", f.runs, "Run folders, or folders of run folders")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--port", f.options.port, "TCP port (0: a free one, printed)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--host", f.options.host,
                  "Address to listen on; the default is reachable from this machine only "
                  "(0.0.0.0 opens it to the network)")
      ->capture_default_str();
  return [flags]() -> int {
    auto& f = *flags;
    std::vector<std::filesystem::path> roots(f.runs.begin(), f.runs.end());
    DashboardServer server(roots, f.options);
    const int port = server.bind();
    const auto runs = server.runs();
    fmt::print("serving {} run{}:\n", runs.size(), runs.size() == 1 ? "" : "s");
    for (const auto& [name, path] : runs) fmt::print("  {:<20} {}\n", name, path.string());
    if (runs.empty())
      fmt::print(
          "no run in {} yet: runs appear once ddpm train has written config.json and "
          "log.csv there\n",
          fmt::join(f.runs, ", "));
    if (!is_loopback(f.options.host))
      fmt::print("note: listening on {}: anyone who can reach this machine can read these runs\n",
                 f.options.host);
    const std::string shown_host = f.options.host == "0.0.0.0" ? "127.0.0.1" : f.options.host;
    fmt::print("open http://{}:{}/   (Ctrl-C stops)\n", shown_host, port);
    std::fflush(stdout);
    install_stop_signals();
    std::atomic<bool> done{false};
    std::thread watcher([&] {
      while (!done && !stop_requested().load())
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      server.stop();
    });
    server.serve();
    done = true;
    watcher.join();
    restore_default_signals();
    return 0;
  };
}

}  // namespace ddpm::cli

#include "web/dashboard_server.h"

#include <httplib.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "web/run_folder.h"
#include "web/served_path.h"
#include "web/web_assets.h"

namespace ddpm {

namespace fs = std::filesystem;

namespace {

std::string file_content_type(const fs::path& path) {
  static const std::map<std::string, std::string> types{
      {".png", "image/png"},   {".json", "application/json"},
      {".csv", "text/csv"},    {".txt", "text/plain; charset=utf-8"},
      {".html", "text/html"},  {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"}, {".log", "text/plain; charset=utf-8"}};
  const auto it = types.find(path.extension().string());
  return it == types.end() ? "application/octet-stream" : it->second;
}

nlohmann::json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nullptr;
}

void send_json(httplib::Response& res, const nlohmann::json& body) {
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(message + "\n", "text/plain; charset=utf-8");
}

}  // namespace

struct DashboardServer::Impl {
  std::vector<fs::path> roots;
  DashboardOptions options;
  httplib::Server server;

  /// The served runs now, by page name. A root that stopped being a run folder is left out.
  std::vector<std::pair<std::string, fs::path>> discover() const {
    std::vector<fs::path> runs;
    for (const auto& root : roots) {
      try {
        for (const auto& run : find_run_folders({root})) runs.push_back(run);
      } catch (const std::exception&) {  // deleted or emptied while serving
      }
    }
    std::vector<std::pair<std::string, fs::path>> named;
    std::map<std::string, int> uses;
    for (const auto& run : runs) {
      std::string name = fs::absolute(run).lexically_normal().filename().string();
      if (name.empty())
        name = fs::absolute(run).lexically_normal().parent_path().filename().string();
      if (name.empty()) name = "run";
      const int n = ++uses[name];
      named.emplace_back(n == 1 ? name : fmt::format("{}-{}", name, n), run);
    }
    return named;
  }

  std::optional<fs::path> find_run(const std::string& id) const {
    for (const auto& [name, path] : discover())
      if (name == id) return path;
    return std::nullopt;
  }

  void routes() {
    // SO_REUSEADDR (a restarted server gets its port back at once) but not httplib's default
    // SO_REUSEPORT, with which a second `ddpm serve` on a taken port would bind it too and share
    // its requests instead of failing.
    server.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof yes);
    });
    server.set_default_headers(
        {{"X-Content-Type-Options", "nosniff"}, {"Referrer-Policy", "no-referrer"}});
    server.Get("/", [](const httplib::Request&, httplib::Response& res) {
      const auto page = find_web_asset("dashboard.html");
      res.set_content(std::string(page->body), std::string(page->content_type));
    });
    server.Get(R"(/assets/([A-Za-z0-9_.-]+))",
               [](const httplib::Request& req, httplib::Response& res) {
                 const auto asset = find_web_asset(req.matches[1]);
                 if (!asset || req.matches[1] == "dashboard.html")
                   return send_error(res, 404, "no such asset");
                 res.set_content(std::string(asset->body), std::string(asset->content_type));
               });
    server.Get("/api/runs", [this](const httplib::Request&, httplib::Response& res) {
      nlohmann::json runs = nlohmann::json::array();
      for (const auto& [name, path] : discover()) {
        auto overview = run_overview(path, name);
        overview["id"] = name;
        runs.push_back(std::move(overview));
      }
      send_json(res, {{"runs", runs}});
    });
    server.Get(R"(/api/runs/([^/]+)/log)",
               [this](const httplib::Request& req, httplib::Response& res) {
                 const auto run = find_run(req.matches[1]);
                 if (!run)
                   return send_error(res, 404, "no run named " + std::string(req.matches[1]));
                 int64_t from = 0;
                 if (req.has_param("from")) {
                   try {
                     from = std::stoll(req.get_param_value("from"));
                   } catch (const std::exception&) {
                     return send_error(res, 400, "from: expected a row number");
                   }
                   if (from < 0) return send_error(res, 400, "from: expected a row number >= 0");
                 }
                 const auto table = read_log_table(*run / "log.csv", from);
                 nlohmann::json rows = nlohmann::json::array();
                 for (const auto& row : table.rows) {
                   nlohmann::json r = nlohmann::json::array();
                   for (double v : row) r.push_back(number_or_null(v));
                   rows.push_back(std::move(r));
                 }
                 send_json(res, {{"columns", table.columns}, {"from", from}, {"rows", rows}});
               });
    server.Get(
        R"(/runs/([^/]+)/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
          const auto run = find_run(req.matches[1]);
          if (!run) return send_error(res, 404, "no run named " + std::string(req.matches[1]));
          const auto served = resolve_served_path(*run, req.matches[2]);
          if (served.verdict == ServedVerdict::Escapes)
            return send_error(res, 403, "outside the served run folder");
          if (served.verdict == ServedVerdict::Missing) return send_error(res, 404, "no such file");
          std::ifstream in(served.path, std::ios::binary);
          std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
          res.set_content(std::move(bytes), file_content_type(served.path));
        });
  }
};

DashboardServer::DashboardServer(std::vector<fs::path> roots, DashboardOptions options)
    : impl_(std::make_unique<Impl>()) {
  for (const auto& root : roots)
    if (!fs::is_directory(root))
      throw std::invalid_argument(root.string() +
                                  ": no such folder (give run folders, or folders of runs)");
  impl_->roots = std::move(roots);
  impl_->options = std::move(options);
  impl_->routes();
}

DashboardServer::~DashboardServer() = default;

int DashboardServer::bind() {
  const auto& o = impl_->options;
  if (o.port < 0 || o.port > 65535)
    throw std::invalid_argument(fmt::format("port {}: expected 0 to 65535", o.port));
  const int port = o.port == 0 ? impl_->server.bind_to_any_port(o.host)
                               : (impl_->server.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port <= 0)
    throw std::runtime_error(fmt::format(
        "cannot listen on {}:{}: the port is taken or {} is not an address of this machine "
        "(--port 0 picks a free port)",
        o.host, o.port, o.host));
  return port;
}

void DashboardServer::serve() {
  impl_->server.listen_after_bind();
}

void DashboardServer::stop() {
  impl_->server.stop();
}

std::vector<std::pair<std::string, fs::path>> DashboardServer::runs() const {
  return impl_->discover();
}

}  // namespace ddpm

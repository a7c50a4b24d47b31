// The control thread: owns the workers and their threads, the endpoint set and its reloads (file watch,
// SIGHUP), the health monitor, and the process lifecycle (start, drain on SIGTERM/SIGINT, exit status).
#pragma once

#include "poolgate/admin/counters.hpp"
#include "poolgate/admin/telemetry.hpp"
#include "poolgate/balance/backend.hpp"
#include "poolgate/balance/health_monitor.hpp"
#include "poolgate/balance/resolve.hpp"
#include "poolgate/config/options.hpp"
#include "poolgate/server/connection_limit.hpp"
#include "poolgate/server/file_watcher.hpp"
#include "poolgate/server/worker.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace poolgate::discovery {
class Discovery;
}
namespace poolgate::admin {
class AdminServer;
}

namespace poolgate::server {

// Exit statuses, as documented in the README.
inline constexpr int kExitOk = 0;
inline constexpr int kExitListenFailed = 1;
inline constexpr int kExitBadConfig = 2;

class Proxy {
 public:
  explicit Proxy(config::Options options);
  ~Proxy();

  // Blocks until the proxy has drained after SIGTERM/SIGINT; returns the process exit status.
  int run();

 private:
  // The endpoints wanted now: the file's (if any) plus --endpoint, resolved. Throws ConfigError.
  std::vector<balance::ResolvedEndpoint> wanted_endpoints(const std::optional<std::string>& file_content) const;
  void publish(balance::BackendSetPtr set);
  void reload(bool forced);
  // Publishes `resolved` unless it is the current set, logging what was added and removed; true if published.
  bool apply_endpoint_set(const std::vector<balance::ResolvedEndpoint>& resolved, bool forced);
  void wait_for_signals();
  void begin_drain(int signal_number);
  void start_discovery();
  // Applies the API servers discovery found: written to the endpoints file and applied like any change of it,
  // or, without a file, applied in memory in place of the --endpoint list. True if anything changed; throws
  // discovery::DiscoveryError if the file cannot be written (then nothing changed).
  bool apply_discovered(const std::vector<config::HostPort>& endpoints);
  void for_each_worker(std::function<void(Worker&)> action);

  config::Options options_;
  boost::asio::io_context control_;
  boost::asio::signal_set signals_;
  balance::HealthMonitor health_;
  // Before workers_: their sessions give slots back while they are destroyed.
  ConnectionLimit connection_limit_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<FileWatcher> watcher_;
  balance::BackendSetPtr current_;
  std::string applied_file_content_;
  std::string rejected_file_content_;
  std::string rejected_reason_;  // why the last rejected version was rejected
  bool draining_ = false;
  // Reload and discovery outcomes for /metrics; thread-safe (count_reload, count_discovery_refresh).
  admin::ControlCounters control_counters_;
  admin::Telemetry telemetry_{control_counters_};
  // After workers_: stopped and destroyed before the worker stats it reads.
  std::unique_ptr<admin::AdminServer> admin_;
  // Without an endpoints file: the last list discovery applied, which replaces --endpoint's.
  std::optional<std::vector<config::HostPort>> discovered_;
  // Last member: destroyed first, while the io_context its refreshes run on still exists.
  std::unique_ptr<discovery::Discovery> discovery_;
};

}  // namespace poolgate::server

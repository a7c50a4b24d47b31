// The control thread: owns the workers and their threads, the endpoint set and its reloads (file watch,
// SIGHUP), the health monitor, and the process lifecycle (start, drain on SIGTERM/SIGINT, exit status).
#pragma once

#include "poolgate/balance/backend.hpp"
#include "poolgate/balance/health_monitor.hpp"
#include "poolgate/balance/resolve.hpp"
#include "poolgate/config/options.hpp"
#include "poolgate/server/file_watcher.hpp"
#include "poolgate/server/worker.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

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
  void wait_for_signals();
  void begin_drain(int signal_number);
  void warn_about_discovery() const;
  void for_each_worker(std::function<void(Worker&)> action);

  config::Options options_;
  boost::asio::io_context control_;
  boost::asio::signal_set signals_;
  balance::HealthMonitor health_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<FileWatcher> watcher_;
  balance::BackendSetPtr current_;
  std::string applied_file_content_;
  std::string rejected_file_content_;
  bool draining_ = false;
};

}  // namespace poolgate::server

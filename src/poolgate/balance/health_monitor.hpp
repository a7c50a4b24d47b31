// Health of backends: a failed dial marks a backend inactive (from any worker thread); the monitor then probes
// it on the control thread with backoff from 1 s up to --monitor-interval and reactivates it on success.
#pragma once

#include "poolgate/balance/backend.hpp"
#include "poolgate/config/duration.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <functional>

namespace poolgate::balance {

class HealthMonitor {
 public:
  using RecoveryHandler = std::function<void(const BackendPtr&)>;

  HealthMonitor(boost::asio::io_context& control, config::Duration connect_timeout,
                config::Duration max_backoff, RecoveryHandler on_recovered);

  // Thread-safe. Marks the backend inactive; the first report of an outage starts probing and logs once.
  void report_failure(const BackendPtr& backend, const boost::system::error_code& error);

 private:
  boost::asio::awaitable<void> probe_until_up(BackendPtr backend);

  boost::asio::io_context& control_;
  config::Duration connect_timeout_;
  config::Duration max_backoff_;
  RecoveryHandler on_recovered_;
};

}  // namespace poolgate::balance

#include "poolgate/balance/health_monitor.hpp"

#include "poolgate/config/duration.hpp"
#include "poolgate/pool/dialer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace poolgate::balance {

HealthMonitor::HealthMonitor(boost::asio::io_context& control, config::Duration connect_timeout,
                             config::Duration max_backoff, RecoveryHandler on_recovered)
    : control_(control),
      connect_timeout_(connect_timeout),
      max_backoff_(max_backoff),
      on_recovered_(std::move(on_recovered)) {}

void HealthMonitor::report_failure(const BackendPtr& backend, const boost::system::error_code& error) {
  // exchange: of all the threads failing at once, exactly one starts the probe loop.
  if (!backend->active.exchange(false)) return;
  boost::asio::post(control_, [this, backend, reason = error.message()] {
    spdlog::warn("endpoint {} is down: {}; probing with backoff up to {}", backend->key, reason,
                 config::format_duration(max_backoff_));
    boost::asio::co_spawn(control_, probe_until_up(backend), boost::asio::detached);
  });
}

boost::asio::awaitable<void> HealthMonitor::probe_until_up(BackendPtr backend) {
  config::Duration backoff = std::min<config::Duration>(std::chrono::seconds(1), max_backoff_);
  boost::asio::steady_timer timer(control_);
  boost::asio::ip::tcp::socket probe(control_);
  while (!backend->retired.load(std::memory_order_relaxed)) {
    timer.expires_after(backoff);
    co_await timer.async_wait(boost::asio::use_awaitable);
    if (backend->retired.load(std::memory_order_relaxed)) break;
    boost::system::error_code ec = co_await pool::dial(probe, backend->address, connect_timeout_);
    boost::system::error_code ignored;
    probe.close(ignored);
    if (!ec) {
      backend->active.store(true);
      spdlog::info("endpoint {} is up again", backend->key);
      on_recovered_(backend);
      co_return;
    }
    spdlog::debug("endpoint {} still down: {}", backend->key, ec.message());
    backoff = std::min(backoff * 2, max_backoff_);
  }
}

}  // namespace poolgate::balance

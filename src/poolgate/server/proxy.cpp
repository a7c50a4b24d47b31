#include "poolgate/server/proxy.hpp"

#include "poolgate/admin/server.hpp"
#include "poolgate/admin/systemd_notify.hpp"
#include "poolgate/config/endpoints_file.hpp"
#include "poolgate/config/error.hpp"
#include "poolgate/discovery/atomic_file.hpp"
#include "poolgate/discovery/discovery.hpp"
#include "poolgate/server/listener.hpp"
#include "poolgate/version.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <thread>

namespace poolgate::server {
namespace {

constexpr auto kDrainPollInterval = std::chrono::milliseconds(20);
// After the drain timeout closes the sessions, the relays need a moment to unwind before the loops stop.
constexpr auto kUnwindTimeout = std::chrono::seconds(2);

std::string join_keys(const std::vector<std::string>& keys) {
  std::string out;
  for (const std::string& key : keys) out += (out.empty() ? "" : ", ") + key;
  return out.empty() ? "none" : out;
}

std::vector<std::string> keys_of(const balance::BackendSet& set) {
  std::vector<std::string> keys;
  for (const auto& backend : set.backends) keys.push_back(backend->key);
  return keys;
}

}  // namespace

Proxy::Proxy(config::Options options)
    : options_(std::move(options)),
      control_(1),
      signals_(control_, SIGTERM, SIGINT, SIGHUP),
      health_(control_, options_.connect_timeout, options_.monitor_interval, [this](const balance::BackendPtr& b) {
        for_each_worker([b](Worker& worker) { worker.on_backend_recovered(b); });
      }),
      connection_limit_(options_.max_connections) {}

Proxy::~Proxy() = default;

std::vector<balance::ResolvedEndpoint> Proxy::wanted_endpoints(const std::optional<std::string>& file_content) const {
  // Discovery replaces the endpoints list: the file's when there is one, else --endpoint's.
  std::vector<config::HostPort> endpoints =
      !options_.endpoints_file && discovered_ ? *discovered_ : options_.static_endpoints;
  if (file_content) {
    auto from_file = config::parse_endpoints_json(*file_content, *options_.endpoints_file);
    endpoints.insert(endpoints.end(), from_file.begin(), from_file.end());
  }
  return balance::resolve_endpoints(endpoints);
}

int Proxy::run() {
  std::vector<balance::ResolvedEndpoint> initial;
  try {
    std::optional<std::string> content;
    if (options_.endpoints_file) content = config::read_whole_file(*options_.endpoints_file);
    initial = wanted_endpoints(content);
    if (content) applied_file_content_ = *content;
  } catch (const config::ConfigError& error) {
    spdlog::error("{}", error.what());
    return kExitBadConfig;
  }

  for (unsigned i = 0; i < options_.threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, options_, health_, connection_limit_));
    telemetry_.add_worker(workers_.back()->stats());
  }
  std::vector<boost::asio::io_context*> contexts;
  for (auto& worker : workers_) contexts.push_back(&worker->context());
  std::string listening_on;
  try {
    auto acceptors = open_listeners(contexts, options_.listen);
    listening_on = balance::endpoint_key(acceptors.front().local_endpoint());
    for (std::size_t i = 0; i < acceptors.size(); ++i) workers_[i]->adopt_listener(std::move(acceptors[i]));
  } catch (const ListenError& error) {
    spdlog::error("{}", error.what());
    return kExitListenFailed;
  }
  std::string admin_on;
  if (options_.admin_listen) {
    admin_ = std::make_unique<admin::AdminServer>(*options_.admin_listen, telemetry_);
    try {
      admin_on = balance::endpoint_key(admin_->start());
    } catch (const admin::AdminListenError& error) {
      spdlog::error("{}", error.what());
      return kExitListenFailed;
    }
  }

  publish(balance::next_backend_set(initial, nullptr));
  for_each_worker([](Worker& worker) { worker.start_accepting(); });
  std::vector<std::thread> threads;
  for (auto& worker : workers_) threads.emplace_back([w = worker.get()] { w->run(); });

  // Watched before the proxy says it is ready: a change made right after READY (or after the "listening on"
  // line a supervisor or test waits for) must not go unnoticed. Events queue until the control loop runs.
  if (options_.endpoints_file) {
    watcher_ = std::make_unique<FileWatcher>(control_, *options_.endpoints_file, [this] { reload(false); });
    watcher_->start();
  }
  telemetry_.set_listening(true);
  spdlog::info("poolgate {} listening on {} with {} worker thread(s); endpoints: {}", kVersion, listening_on,
               options_.threads, join_keys(keys_of(*current_)));
  // Logged after the line above: tools (and the tests) take the first "listening on" as the proxy's address.
  if (admin_) spdlog::info("admin listening on {} (/metrics, /healthz, /readyz)", admin_on);
  admin::notify_ready("listening on " + listening_on);
  start_discovery();
  wait_for_signals();

  control_.run();
  for (auto& worker : workers_) worker->stop();
  for (auto& thread : threads) thread.join();
  connection_limit_.stop_waking();
  if (admin_) admin_->stop();
  spdlog::info("stopped");
  return kExitOk;
}

void Proxy::publish(balance::BackendSetPtr set) {
  if (current_) {
    for (const auto& backend : current_->backends) {
      if (set->find(backend->key) == nullptr) backend->retired.store(true);
    }
  }
  current_ = set;
  telemetry_.set_backends(set);
  for_each_worker([set](Worker& worker) { worker.apply(set); });
}

void Proxy::reload(bool forced) {
  if (draining_ || !options_.endpoints_file) return;
  const std::string& path = *options_.endpoints_file;
  std::string content;
  std::vector<balance::ResolvedEndpoint> resolved;
  std::optional<admin::ReloadNotice> notice;  // RELOADING=1 to systemd now, READY=1 when this reload is done
  if (forced) notice.emplace();
  try {
    content = config::read_whole_file(path);
    // Directory events for other files, or a rewrite with the same bytes: nothing to do.
    if (!forced && content == applied_file_content_) return;
    if (!notice) notice.emplace();
    resolved = wanted_endpoints(content);
  } catch (const config::ConfigError& error) {
    // One line per bad version of the file or per new reason it cannot be read, not one per inotify event:
    // every event in the directory (another file written, even poolgate's own log) lands here.
    const std::string reason = error.what();
    if (forced || content != rejected_file_content_ || reason != rejected_reason_) {
      spdlog::error("endpoints not reloaded, keeping the {} current ones: {}", current_->backends.size(), reason);
      control_counters_.count_reload(admin::ReloadResult::failure);
    }
    rejected_file_content_ = content;
    rejected_reason_ = reason;
    return;
  }
  applied_file_content_ = content;
  rejected_file_content_.clear();
  rejected_reason_.clear();
  control_counters_.count_reload(admin::ReloadResult::success);
  apply_endpoint_set(resolved, forced);
}

bool Proxy::apply_endpoint_set(const std::vector<balance::ResolvedEndpoint>& resolved, bool forced) {
  std::vector<std::string> added, removed;
  for (const auto& endpoint : resolved) {
    if (current_->find(endpoint.key) == nullptr) added.push_back(endpoint.key);
  }
  for (const auto& backend : current_->backends) {
    if (std::none_of(resolved.begin(), resolved.end(), [&](const auto& e) { return e.key == backend->key; })) {
      removed.push_back(backend->key);
    }
  }
  if (added.empty() && removed.empty()) {
    if (forced) spdlog::info("endpoints reloaded: unchanged ({})", join_keys(keys_of(*current_)));
    return false;
  }
  publish(balance::next_backend_set(resolved, current_.get()));
  spdlog::info("endpoints reloaded: {} endpoint(s); added: {}; removed: {}{}", current_->backends.size(),
               join_keys(added), join_keys(removed),
               removed.empty() ? "" : " (their connections close after " +
                                          config::format_duration(options_.removed_endpoint_grace) + ")");
  return true;
}

void Proxy::wait_for_signals() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    if (signal_number == SIGHUP) {
      spdlog::info("SIGHUP: re-reading the endpoints");
      reload(true);
    } else {
      begin_drain(signal_number);
    }
    wait_for_signals();
  });
}

void Proxy::begin_drain(int signal_number) {
  const char* name = signal_number == SIGINT ? "SIGINT" : "SIGTERM";
  if (draining_) {
    spdlog::info("{} again: still draining", name);
    return;
  }
  draining_ = true;
  telemetry_.set_draining();  // /readyz answers 503 from now on
  telemetry_.set_listening(false);
  admin::notify_stopping(std::string("draining after ") + name);
  watcher_.reset();
  if (discovery_) discovery_->stop();
  for_each_worker([](Worker& worker) { worker.stop_accepting(); });
  boost::asio::co_spawn(
      control_,
      [this, name]() -> boost::asio::awaitable<void> {
        auto open_sessions = [this] {
          std::size_t total = 0;
          for (auto& worker : workers_) total += worker->active_sessions();
          return total;
        };
        spdlog::info("{}: stopped accepting; draining {} open connection(s) for up to {}", name, open_sessions(),
                     config::format_duration(options_.drain_timeout));
        boost::asio::steady_timer timer(control_);
        const auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
        while (open_sessions() > 0 && std::chrono::steady_clock::now() < deadline) {
          timer.expires_after(kDrainPollInterval);
          co_await timer.async_wait(boost::asio::use_awaitable);
        }
        if (std::size_t left = open_sessions(); left > 0) {
          spdlog::warn("drain timeout: closing {} open connection(s)", left);
          for_each_worker([](Worker& worker) { worker.close_all_sessions(); });
          const auto unwind_deadline = std::chrono::steady_clock::now() + kUnwindTimeout;
          while (open_sessions() > 0 && std::chrono::steady_clock::now() < unwind_deadline) {
            timer.expires_after(kDrainPollInterval);
            co_await timer.async_wait(boost::asio::use_awaitable);
          }
        } else {
          spdlog::info("drained: all connections finished");
        }
        signals_.cancel();
        control_.stop();
      },
      boost::asio::detached);
}

void Proxy::start_discovery() {
  discovery_ = std::make_unique<discovery::Discovery>(
      control_, options_, [this] { return current_; },
      [this](const std::vector<config::HostPort>& endpoints) { return apply_discovered(endpoints); });
  discovery_->on_refresh([this](bool succeeded) {
    control_counters_.count_discovery_refresh(succeeded ? admin::DiscoveryResult::success
                                                        : admin::DiscoveryResult::failure);
  });
  if (!discovery_->start()) discovery_.reset();
}

bool Proxy::apply_discovered(const std::vector<config::HostPort>& endpoints) {
  if (draining_) return false;
  if (!options_.endpoints_file) {
    if (discovered_ == endpoints) return false;
    discovered_ = endpoints;
    return apply_endpoint_set(wanted_endpoints(std::nullopt), false);
  }
  const std::string& path = *options_.endpoints_file;
  std::vector<config::HostPort> in_effect;
  try {
    in_effect = config::parse_endpoints_json(applied_file_content_, path);
  } catch (const config::ConfigError&) {
    // Nothing from the file is in effect: whatever was discovered is a change.
  }
  if (in_effect == endpoints) return false;
  discovery::replace_file_atomically(path, config::render_endpoints_json(endpoints));
  // The same path as any other change of the file; the watcher's event for this write then finds it applied.
  reload(false);
  return true;
}

void Proxy::for_each_worker(std::function<void(Worker&)> action) {
  for (auto& worker : workers_) {
    boost::asio::post(worker->context(), [w = worker.get(), action] { action(*w); });
  }
}

}  // namespace poolgate::server

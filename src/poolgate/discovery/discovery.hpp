// Kubernetes API server discovery: on the control thread, every --refresh-interval, ask the API servers poolgate
// forwards to (dialing https://<endpoint> directly) which API servers the cluster has, and apply the answer
// like a change of the endpoints file.
#pragma once

#include "poolgate/balance/backend.hpp"
#include "poolgate/config/address.hpp"
#include "poolgate/config/duration.hpp"
#include "poolgate/config/options.hpp"
#include "poolgate/discovery/api_client.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace poolgate::discovery {

// Refreshing more often than this only loads the API servers; shorter intervals are raised to it.
inline constexpr config::Duration kMinRefreshInterval = std::chrono::seconds(15);
// One attempt (one endpoint asked) gives up after this long.
inline constexpr config::Duration kAttemptTimeout = std::chrono::seconds(10);

config::Duration effective_refresh_interval(config::Duration requested);

// The endpoints of `set` in the order a refresh asks them: active ones first, each group sorted by key.
std::vector<ApiServer> api_servers_to_ask(const balance::BackendSet& set);

struct FetchResult {
  std::vector<config::HostPort> endpoints;  // sorted, without duplicates; may be empty
  std::string source;                       // "EndpointSlices" or "Endpoints"
};

// Asks one API server: the EndpointSlices of the kubernetes service first; if that request gets an error status
// or an unusable body, the Endpoints object. A failure to connect or to complete TLS (or a timeout) ends the
// attempt at once. Throws DiscoveryError with the reason (both requests' when both fail).
boost::asio::awaitable<FetchResult> fetch_api_servers(const ApiClient& client, ApiServer server,
                                                      config::Duration timeout);

class Discovery {
 public:
  // The set poolgate forwards to now (the endpoints to ask).
  using CurrentSet = std::function<balance::BackendSetPtr()>;
  // Applies a discovered list; true if it changed anything. Throws (e.g. the file cannot be written) to report
  // that nothing changed.
  using Apply = std::function<bool(const std::vector<config::HostPort>&)>;
  // Told the outcome of every finished refresh: true when an API server answered with a usable, non-empty list
  // and it was applied (changed or not); false for every other end (for a metric such as
  // poolgate_discovery_refreshes_total). Not called for a refresh cut short by stop().
  using RefreshObserver = std::function<void(bool succeeded)>;

  Discovery(boost::asio::io_context& control, const config::Options& options, CurrentSet current, Apply apply);
  ~Discovery();
  Discovery(const Discovery&) = delete;
  Discovery& operator=(const Discovery&) = delete;

  // Turns discovery on when the kubeconfig exists and the interval is not 0 (one refresh at once, then one per
  // interval), or logs why it stays off. Returns whether it is on.
  bool start();
  // No further refreshes; one in flight finishes but its result is for the owner to ignore.
  void stop();
  void on_refresh(RefreshObserver observer) { on_refresh_ = std::move(observer); }

 private:
  boost::asio::awaitable<void> run();
  // The outcome for the RefreshObserver; nullopt when stop() cut the refresh short.
  boost::asio::awaitable<std::optional<bool>> refresh();
  std::string endpoints_source() const;

  boost::asio::io_context& control_;
  const config::Options& options_;
  CurrentSet current_;
  Apply apply_;
  RefreshObserver on_refresh_;
  config::Duration interval_{};
  boost::asio::steady_timer timer_;
  bool stopped_ = false;
  bool warned_insecure_ = false;
};

}  // namespace poolgate::discovery

#include "poolgate/discovery/discovery.hpp"

#include "poolgate/config/quote.hpp"
#include "poolgate/discovery/api_objects.hpp"
#include "poolgate/discovery/error.hpp"
#include "poolgate/discovery/kubeconfig.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <optional>

namespace poolgate::discovery {
namespace {

std::string describe_status(const HttpResponse& response) {
  std::string text = "HTTP " + std::to_string(response.status) +
                     (response.reason.empty() ? "" : " " + config::printable(response.reason, 100));
  const std::string message = status_message(response.body);
  return message.empty() ? text : text + ": " + message;
}

std::string join(const std::vector<config::HostPort>& endpoints) {
  std::string out;
  for (const config::HostPort& endpoint : endpoints) out += (out.empty() ? "" : ", ") + endpoint.to_string();
  return out;
}

}  // namespace

config::Duration effective_refresh_interval(config::Duration requested) {
  if (requested == config::Duration::zero()) return requested;
  return std::max(requested, kMinRefreshInterval);
}

std::vector<ApiServer> api_servers_to_ask(const balance::BackendSet& set) {
  struct Candidate {
    bool active;
    const balance::Backend* backend;
  };
  // Health is read once: workers may flip it while we sort.
  std::vector<Candidate> candidates;
  for (const auto& backend : set.backends) candidates.push_back({backend->active.load(), backend.get()});
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.active != b.active) return a.active;
    return a.backend->key < b.backend->key;
  });

  std::vector<ApiServer> servers;
  for (const Candidate& candidate : candidates) {
    const balance::Backend& backend = *candidate.backend;
    // An endpoint configured by host name is expected to present a certificate for that name; a literal
    // address, a certificate with that IP.
    std::string verify_host = backend.address.address().to_string();
    try {
      const config::HostPort origin = config::parse_endpoint(backend.origin);
      boost::system::error_code not_ip;
      boost::asio::ip::make_address(origin.host, not_ip);
      if (not_ip) verify_host = origin.host;
    } catch (const config::ConfigError&) {
      // The origin was valid when it was loaded; the address is the safe choice anyway.
    }
    servers.push_back({backend.key, backend.address, std::move(verify_host)});
  }
  return servers;
}

namespace {

// One listing from one API server: on 200, the parsed addresses; otherwise nothing, and why in `failure`.
using ListingParser = std::vector<config::HostPort> (*)(std::string_view json);
boost::asio::awaitable<std::optional<std::vector<config::HostPort>>> fetch_listing(
    const ApiClient& client, const ApiServer& server, std::string target, config::Duration timeout,
    ListingParser parse, std::string_view kind, std::string& failure) {
  const HttpResponse response = co_await client.get(server, std::move(target), timeout);
  if (response.status != 200) {
    failure = std::string(kind) + ": " + describe_status(response);
    co_return std::nullopt;
  }
  try {
    co_return parse(response.body);
  } catch (const DiscoveryError& error) {
    failure = error.what();
    co_return std::nullopt;
  }
}

}  // namespace

boost::asio::awaitable<FetchResult> fetch_api_servers(const ApiClient& client, ApiServer server,
                                                      config::Duration timeout) {
  // Transport failures propagate from get(): the endpoint did not answer, so the fallback would not either.
  std::string slices_failure, endpoints_failure;
  if (auto slices = co_await fetch_listing(client, server, endpoint_slices_target(), timeout,
                                           &parse_endpoint_slice_list, "EndpointSlices", slices_failure)) {
    co_return FetchResult{std::move(*slices), "EndpointSlices"};
  }
  spdlog::debug("discovery: {}: {}; asking for the Endpoints object instead", server.key, slices_failure);
  if (auto endpoints = co_await fetch_listing(client, server, endpoints_target(), timeout, &parse_endpoints,
                                              "Endpoints", endpoints_failure)) {
    co_return FetchResult{std::move(*endpoints), "Endpoints"};
  }
  throw DiscoveryError(slices_failure + "; " + endpoints_failure);
}

Discovery::Discovery(boost::asio::io_context& control, const config::Options& options, CurrentSet current,
                     Apply apply)
    : control_(control), options_(options), current_(std::move(current)), apply_(std::move(apply)), timer_(control) {}

Discovery::~Discovery() = default;

std::string Discovery::endpoints_source() const {
  return options_.endpoints_file ? *options_.endpoints_file : std::string("--endpoint");
}

bool Discovery::start() {
  if (options_.refresh_interval == config::Duration::zero()) {
    spdlog::debug("discovery off: --refresh-interval 0");
    return false;
  }
  std::error_code ec;
  if (!std::filesystem::exists(options_.kubeconfig, ec)) {
    spdlog::warn("discovery off: kubeconfig {} not found; endpoints come from {}", options_.kubeconfig,
                 endpoints_source());
    return false;
  }
  interval_ = effective_refresh_interval(options_.refresh_interval);
  if (interval_ != options_.refresh_interval) {
    spdlog::warn("--refresh-interval {} is below the minimum of {}; using {}",
                 config::format_duration(options_.refresh_interval), config::format_duration(kMinRefreshInterval),
                 config::format_duration(interval_));
  }
  spdlog::info("discovery on: asking the API servers for their endpoints now and every {} (kubeconfig {})",
               config::format_duration(interval_), options_.kubeconfig);
  boost::asio::co_spawn(control_, run(), boost::asio::detached);
  return true;
}

void Discovery::stop() {
  stopped_ = true;
  timer_.cancel();
}

boost::asio::awaitable<void> Discovery::run() {
  while (!stopped_) {
    const auto started = std::chrono::steady_clock::now();
    std::optional<bool> succeeded = false;
    std::string failure;
    try {
      succeeded = co_await refresh();
    } catch (const std::exception& error) {
      failure = error.what();
    }
    if (!failure.empty()) spdlog::error("discovery: refresh failed: {}; endpoints unchanged", failure);
    if (succeeded && on_refresh_) on_refresh_(*succeeded);
    if (stopped_) break;
    timer_.expires_at(started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval_));
    boost::system::error_code cancelled;
    co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, cancelled));
  }
}

boost::asio::awaitable<std::optional<bool>> Discovery::refresh() {
  // Re-read every time: kubelet rotates its client certificate, and tokens get replaced.
  std::optional<ApiClient> client;
  bool insecure = false;
  try {
    const Kubeconfig kubeconfig = load_kubeconfig(options_.kubeconfig);
    client.emplace(kubeconfig);
    insecure = kubeconfig.insecure_skip_tls_verify;
  } catch (const UnsupportedKubeconfig& error) {
    spdlog::error("discovery off: {}; endpoints come from {}", error.what(), endpoints_source());
    stopped_ = true;
  } catch (const config::ConfigError& error) {
    spdlog::warn("discovery: {}; endpoints unchanged", error.what());
  }
  if (!client) co_return false;
  if (insecure && !warned_insecure_) {
    spdlog::warn("discovery: kubeconfig {} sets insecure-skip-tls-verify: API server certificates are not verified",
                 options_.kubeconfig);
  }
  warned_insecure_ = insecure;

  const balance::BackendSetPtr set = current_();
  const std::vector<ApiServer> servers = set ? api_servers_to_ask(*set) : std::vector<ApiServer>{};
  std::optional<FetchResult> result;
  std::string answered_by;
  for (const ApiServer& server : servers) {
    if (stopped_) co_return std::nullopt;
    std::string failure;
    try {
      result = co_await fetch_api_servers(*client, server, kAttemptTimeout);
      answered_by = server.key;
    } catch (const std::exception& error) {
      failure = error.what();
    }
    if (result) break;
    spdlog::warn("discovery: asking {} failed: {}", server.key, failure);
  }
  if (stopped_) co_return std::nullopt;
  if (!result) {
    spdlog::warn("discovery: none of the {} endpoint(s) answered; endpoints unchanged", servers.size());
    co_return false;
  }
  if (result->endpoints.empty()) {
    spdlog::warn("discovery: {} lists no ready API server ({}); endpoints unchanged", answered_by, result->source);
    co_return false;
  }
  bool changed = false;
  try {
    changed = apply_(result->endpoints);
  } catch (const std::exception& error) {
    spdlog::error("discovery: {}; endpoints unchanged", error.what());
    co_return false;
  }
  if (changed) {
    spdlog::info("discovery: API servers are now {} (from {}, {}); {}", join(result->endpoints), answered_by,
                 result->source,
                 options_.endpoints_file ? "written to " + *options_.endpoints_file
                                         : std::string("applied in memory (no endpoints file)"));
  } else {
    spdlog::debug("discovery: endpoints unchanged ({}, from {})", result->endpoints.size(), answered_by);
  }
  co_return true;
}

}  // namespace poolgate::discovery

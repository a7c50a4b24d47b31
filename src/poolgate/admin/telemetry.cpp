#include "poolgate/admin/telemetry.hpp"

#include "poolgate/version.hpp"

#include <fmt/format.h>

#include <array>
#include <map>

namespace poolgate::admin {
namespace {

// One endpoint's numbers summed over every worker.
struct EndpointTotals {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t evicted_idle = 0;
  std::uint64_t evicted_closed_by_peer = 0;
  std::uint64_t evicted_endpoint_removed = 0;
  std::uint64_t connect_errors = 0;
  std::int64_t idle = 0;
  std::int64_t active = 0;
  std::array<std::uint64_t, LocalHistogram::kBuckets + 1> connect_buckets{};
  double connect_sum_seconds = 0;
  std::uint64_t http_requests = 0;
  std::uint64_t http_reused = 0;
  std::uint64_t http_retries = 0;
  std::uint64_t http_response_errors = 0;
};

// Client requests refused before reaching an endpoint, summed over every worker.
struct HttpRefusalTotals {
  std::uint64_t malformed = 0;
  std::uint64_t header_too_large = 0;
  std::uint64_t timed_out = 0;
};

// Builds the text exposition: a family's HELP and TYPE, then its samples, one family after the other.
class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  template <class Value>
  void sample(std::string_view name, std::string_view labels, Value value) {
    if (labels.empty()) {
      fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    } else {
      fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
    }
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string label(std::string_view name, std::string_view value) {
  return fmt::format("{}=\"{}\"", name, escape_label_value(value));
}

std::string format_bound(double bound) { return fmt::format("{}", bound); }

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

void Telemetry::set_backends(balance::BackendSetPtr set) {
  std::lock_guard lock(backends_mutex_);
  backends_ = std::move(set);
}

balance::BackendSetPtr Telemetry::backends() const {
  std::lock_guard lock(backends_mutex_);
  return backends_;
}

Readiness Telemetry::readiness() const {
  if (draining_.load(std::memory_order_relaxed)) return {false, "draining: shutting down"};
  if (!listening_.load(std::memory_order_relaxed)) return {false, "not listening yet"};
  const balance::BackendSetPtr set = backends();
  if (!set || set->backends.empty()) return {false, "no endpoints configured"};
  for (const auto& backend : set->backends) {
    if (backend->active.load(std::memory_order_relaxed)) return {true, "ready"};
  }
  return {false, fmt::format("no endpoint is up (all {} down)", set->backends.size())};
}

namespace {

// HTTP mode's families (all zero in TCP mode).
void render_http(Exposition& out, const std::map<std::string, EndpointTotals>& endpoints,
                 const HttpRefusalTotals& refusals, std::int64_t requests_in_flight) {
  out.family("poolgate_http_requests_in_flight", "gauge",
             "HTTP mode: requests forwarded (or on their way) whose response header has not arrived yet.");
  out.sample("poolgate_http_requests_in_flight", "", requests_in_flight);
  struct PerEndpoint {
    std::string_view name;
    std::string_view help;
    std::uint64_t EndpointTotals::*value;
  };
  for (const PerEndpoint& family : {
           PerEndpoint{"poolgate_http_requests_total", "HTTP mode: requests forwarded to the endpoint.",
                       &EndpointTotals::http_requests},
           PerEndpoint{"poolgate_http_reused_connections_total",
                       "HTTP mode: requests sent on a backend connection that had already served a request.",
                       &EndpointTotals::http_reused},
           PerEndpoint{"poolgate_http_retries_total",
                       "HTTP mode: idempotent requests sent again after a reused connection closed under them.",
                       &EndpointTotals::http_retries},
           PerEndpoint{"poolgate_http_response_errors_total",
                       "HTTP mode: responses that were malformed, truncated or never came.",
                       &EndpointTotals::http_response_errors},
       }) {
    out.family(family.name, "counter", family.help);
    for (const auto& [key, totals] : endpoints) out.sample(family.name, label("endpoint", key), totals.*family.value);
  }
  out.family("poolgate_http_requests_refused_total", "counter",
             "HTTP mode: client requests refused before reaching an endpoint: malformed (400), header_too_large "
             "(431), timeout (idle or slow header).");
  out.sample("poolgate_http_requests_refused_total", label("reason", "malformed"), refusals.malformed);
  out.sample("poolgate_http_requests_refused_total", label("reason", "header_too_large"), refusals.header_too_large);
  out.sample("poolgate_http_requests_refused_total", label("reason", "timeout"), refusals.timed_out);
}

}  // namespace

std::string Telemetry::render_metrics() const {
  std::uint64_t accepted = 0, rejected = 0, to_backend = 0, to_client = 0;
  std::uint64_t paused_at_limit = 0, paused_out_of_descriptors = 0;
  std::map<std::string, EndpointTotals> endpoints;  // sorted by key: stable output
  HttpRefusalTotals refusals;
  std::int64_t requests_in_flight = 0, deferring = 0;
  for (const WorkerStats* worker : workers_) {
    deferring += worker->accept_deferring.load();
    requests_in_flight += worker->http_requests_in_flight.load();
    refusals.malformed += worker->http_refusals.malformed.load();
    refusals.header_too_large += worker->http_refusals.header_too_large.load();
    refusals.timed_out += worker->http_refusals.timed_out.load();
    accepted += worker->accepted.load();
    rejected += worker->rejected_no_backend.load();
    to_backend += worker->bytes_to_backend.load();
    to_client += worker->bytes_to_client.load();
    paused_at_limit += worker->accept_pauses_max_connections.load();
    paused_out_of_descriptors += worker->accept_pauses_out_of_descriptors.load();
    worker->for_each_endpoint([&](const std::string& key, const EndpointStats& stats) {
      EndpointTotals& totals = endpoints[key];
      const pool::PoolCounters& pool = *stats.pool;
      totals.hits += pool.hits.load();
      totals.misses += pool.misses.load();
      totals.evicted_idle += pool.evicted_idle.load();
      totals.evicted_closed_by_peer += pool.evicted_closed_by_peer.load();
      totals.evicted_endpoint_removed += pool.evicted_endpoint_removed.load();
      totals.idle += pool.idle.load();
      totals.connect_errors += stats.connect_errors.load();
      totals.active += stats.active.load();
      for (std::size_t i = 0; i < totals.connect_buckets.size(); ++i) {
        totals.connect_buckets[i] += pool.connect_duration.bucket(i);
      }
      totals.connect_sum_seconds += pool.connect_duration.sum_seconds();
      totals.http_requests += stats.http_requests.load();
      totals.http_reused += stats.http_reused.load();
      totals.http_retries += stats.http_retries.load();
      totals.http_response_errors += stats.http_response_errors.load();
    });
  }
  const balance::BackendSetPtr set = backends();
  if (set) {
    for (const auto& backend : set->backends) endpoints.try_emplace(backend->key);
  }

  Exposition out;
  out.family("poolgate_build_info", "gauge", "Always 1; the version label tells which poolgate is running.");
  out.sample("poolgate_build_info", label("version", kVersion), 1);

  out.family("poolgate_connections_accepted_total", "counter", "Client connections accepted.");
  out.sample("poolgate_connections_accepted_total", "", accepted);

  out.family("poolgate_connections_active", "gauge",
             "Client connections being relayed now, by backend endpoint (HTTP mode: requests in flight and open "
             "Upgrade/CONNECT tunnels).");
  for (const auto& [key, totals] : endpoints) {
    out.sample("poolgate_connections_active", label("endpoint", key), std::max<std::int64_t>(totals.active, 0));
  }

  out.family("poolgate_connections_rejected_total", "counter",
             "Client connections closed without a backend (reason no_backend: every endpoint down or failing).");
  out.sample("poolgate_connections_rejected_total", label("reason", "no_backend"), rejected);

  out.family("poolgate_accept_pauses_total", "counter",
             "Times a worker stopped accepting clients (they wait in the listen backlog): at the --max-connections "
             "cap (reason max_connections), or out of file descriptors (reason out_of_descriptors).");
  out.sample("poolgate_accept_pauses_total", label("reason", "max_connections"), paused_at_limit);
  out.sample("poolgate_accept_pauses_total", label("reason", "out_of_descriptors"), paused_out_of_descriptors);

  out.family("poolgate_accept_deferring_workers", "gauge",
             "HTTP mode: worker threads whose listener holds each new connection back until its first bytes "
             "arrive, because clients are queueing for them.");
  out.sample("poolgate_accept_deferring_workers", "", deferring);

  out.family("poolgate_backend_connect_duration_seconds", "histogram",
             "Time to establish a backend TCP connection (client dials and warm-pool refills that succeeded).");
  for (const auto& [key, totals] : endpoints) {
    const std::string endpoint = label("endpoint", key);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kConnectBuckets.size(); ++i) {
      cumulative += totals.connect_buckets[i];
      out.sample("poolgate_backend_connect_duration_seconds_bucket",
                 endpoint + "," + label("le", format_bound(kConnectBuckets[i])), cumulative);
    }
    cumulative += totals.connect_buckets.back();
    out.sample("poolgate_backend_connect_duration_seconds_bucket", endpoint + "," + label("le", "+Inf"),
               cumulative);
    out.sample("poolgate_backend_connect_duration_seconds_sum", endpoint, totals.connect_sum_seconds);
    out.sample("poolgate_backend_connect_duration_seconds_count", endpoint, cumulative);
  }

  out.family("poolgate_backend_connect_errors_total", "counter",
             "Backend dials that failed or timed out (client dials and warm-pool refills).");
  for (const auto& [key, totals] : endpoints) {
    out.sample("poolgate_backend_connect_errors_total", label("endpoint", key), totals.connect_errors);
  }

  out.family("poolgate_pool_hits_total", "counter", "Clients given an already-connected warm backend socket.");
  for (const auto& [key, totals] : endpoints) {
    out.sample("poolgate_pool_hits_total", label("endpoint", key), totals.hits);
  }
  out.family("poolgate_pool_misses_total", "counter",
             "Clients that found no warm socket and dialed the backend themselves (every client when pooling is "
             "off).");
  for (const auto& [key, totals] : endpoints) {
    out.sample("poolgate_pool_misses_total", label("endpoint", key), totals.misses);
  }
  out.family("poolgate_pool_idle_connections", "gauge", "Warm backend sockets waiting for a client now.");
  for (const auto& [key, totals] : endpoints) {
    out.sample("poolgate_pool_idle_connections", label("endpoint", key), std::max<std::int64_t>(totals.idle, 0));
  }
  out.family("poolgate_pool_evictions_total", "counter",
             "Warm sockets closed unused: expired (idle), closed or reset by the backend (closed_by_peer), or "
             "dropped because the endpoint left the set (endpoint_removed).");
  for (const auto& [key, totals] : endpoints) {
    const std::string endpoint = label("endpoint", key);
    out.sample("poolgate_pool_evictions_total", endpoint + "," + label("reason", "idle"), totals.evicted_idle);
    out.sample("poolgate_pool_evictions_total", endpoint + "," + label("reason", "closed_by_peer"),
               totals.evicted_closed_by_peer);
    out.sample("poolgate_pool_evictions_total", endpoint + "," + label("reason", "endpoint_removed"),
               totals.evicted_endpoint_removed);
  }

  out.family("poolgate_endpoint_up", "gauge",
             "1 while the endpoint takes clients, 0 after a failed dial until a probe succeeds; current endpoints "
             "only.");
  if (set) {
    for (const auto& backend : set->backends) {
      out.sample("poolgate_endpoint_up", label("endpoint", backend->key),
                 backend->active.load(std::memory_order_relaxed) ? 1 : 0);
    }
  }

  out.family("poolgate_bytes_total", "counter",
             "Bytes relayed, by direction (open connections are counted about once a second).");
  out.sample("poolgate_bytes_total", label("direction", "to_backend"), to_backend);
  out.sample("poolgate_bytes_total", label("direction", "to_client"), to_client);

  render_http(out, endpoints, refusals, requests_in_flight);

  out.family("poolgate_endpoints_reloads_total", "counter",
             "Endpoint set reloads (file change or SIGHUP), by result; a failure keeps the current endpoints.");
  for (std::size_t i = 0; i < ControlCounters::kReloadResults.size(); ++i) {
    out.sample("poolgate_endpoints_reloads_total", label("result", ControlCounters::kReloadResults[i]),
               control_.reloads(i));
  }
  out.family("poolgate_discovery_refreshes_total", "counter",
             "Kubernetes API server discovery refreshes, by result.");
  for (std::size_t i = 0; i < ControlCounters::kDiscoveryResults.size(); ++i) {
    out.sample("poolgate_discovery_refreshes_total", label("result", ControlCounters::kDiscoveryResults[i]),
               control_.discovery_refreshes(i));
  }
  return out.take();
}

}  // namespace poolgate::admin

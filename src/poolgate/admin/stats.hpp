// What one worker thread counts, for /metrics. The worker writes (admin/counters.hpp: relaxed load + store, no
// locked instructions); the admin thread reads and sums every worker's at scrape time. Nothing here is shared
// between workers.
#pragma once

#include "poolgate/admin/counters.hpp"
#include "poolgate/pool/endpoint_pool.hpp"

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace poolgate::admin {

// One endpoint ("ip:port") as seen by one worker. Kept after the endpoint leaves the set, so its totals (and
// its evictions for reason endpoint_removed) stay visible and never go backwards.
struct EndpointStats {
  std::shared_ptr<pool::PoolCounters> pool = std::make_shared<pool::PoolCounters>();
  LocalCounter connect_errors;  // failed dials: a client's own, and the pool's refills
  LocalGauge active;            // clients relaying to this endpoint now
  // HTTP mode.
  LocalCounter http_requests;         // requests forwarded (a retry counts once more)
  LocalCounter http_reused;           // requests sent on a connection that had already served one
  LocalCounter http_retries;          // idempotent requests sent again after a reused connection failed
  LocalCounter http_response_errors;  // malformed, truncated or missing responses
};

// HTTP mode, per worker: client requests refused before any endpoint was chosen.
struct HttpRefusals {
  LocalCounter malformed;         // 400
  LocalCounter header_too_large;  // 431
  LocalCounter timed_out;         // idle or header timeout
};

class WorkerStats {
 public:
  LocalCounter accepted;
  LocalCounter rejected_no_backend;
  LocalCounter bytes_to_backend;
  LocalCounter bytes_to_client;
  HttpRefusals http_refusals;
  // HTTP mode: requests between their backend lease and the arrival of their response header. Also the load
  // signal of the worker's event loop (server/event_loop.hpp).
  LocalGauge http_requests_in_flight;
  // HTTP mode: 1 while the worker's listener holds new connections back until their first bytes (clients are
  // queueing; server/accept_deferral.hpp), else 0.
  LocalGauge accept_deferring;
  // Times the accept loop stopped accepting: at the --max-connections cap, or out of file descriptors.
  LocalCounter accept_pauses_max_connections;
  LocalCounter accept_pauses_out_of_descriptors;

  // Owning worker only: the stats of `key`, made on first use. The lock is taken only to add one, so the
  // per-connection path (which finds an existing entry) takes none; the returned reference stays valid.
  EndpointStats& endpoint(const std::string& key) {
    if (auto it = endpoints_.find(key); it != endpoints_.end()) return *it->second;
    auto stats = std::make_shared<EndpointStats>();
    std::lock_guard lock(mutex_);
    return *endpoints_.emplace(key, std::move(stats)).first->second;
  }

  // Any thread: calls visit(key, stats) for every endpoint this worker has seen.
  void for_each_endpoint(const std::function<void(const std::string&, const EndpointStats&)>& visit) const {
    std::lock_guard lock(mutex_);
    for (const auto& [key, stats] : endpoints_) visit(key, *stats);
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<EndpointStats>> endpoints_;
};

}  // namespace poolgate::admin

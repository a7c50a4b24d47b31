// A backend: one resolved address of an endpoint, plus the state every worker thread shares about it
// (health and the pool budget), kept in atomics so the per-connection path takes no lock.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace poolgate::balance {

struct Backend {
  Backend(std::string key_, std::string origin_, boost::asio::ip::tcp::endpoint address_)
      : key(std::move(key_)), origin(std::move(origin_)), address(address_) {}

  const std::string key;     // the resolved address, "10.0.0.1:6443" or "[fd00::2]:6443": identity and sort key
  const std::string origin;  // the endpoint as configured ("api.example:6443"); equals key for literals
  const boost::asio::ip::tcp::endpoint address;

  // False after a failed dial until a probe succeeds. Clients skip inactive backends.
  std::atomic<bool> active{true};
  // Set by the control thread when the endpoint leaves the set: probes stop.
  std::atomic<bool> retired{false};
  // Warm connections held or being dialed for this backend by all threads: the cross-thread pool cap.
  std::atomic<int> pooled{0};

  // Takes one slot of the cross-thread pool budget if fewer than `limit` are taken.
  bool try_reserve_pool_slot(int limit) {
    int current = pooled.load(std::memory_order_relaxed);
    while (current < limit) {
      if (pooled.compare_exchange_weak(current, current + 1, std::memory_order_relaxed)) return true;
    }
    return false;
  }
  void release_pool_slot() { pooled.fetch_sub(1, std::memory_order_relaxed); }
};

using BackendPtr = std::shared_ptr<Backend>;

// One immutable generation of the endpoint set, sorted by key. Published by the control thread and handed
// to each worker; a backend that stays across generations is the same object, so its health and pool stay.
struct BackendSet {
  std::vector<BackendPtr> backends;
  std::uint64_t generation = 0;

  BackendPtr find(const std::string& key) const;
};

using BackendSetPtr = std::shared_ptr<const BackendSet>;

}  // namespace poolgate::balance

// Metric primitives. The data path counts per thread: each worker owns its counters, writes them with a relaxed
// load and a relaxed store (never a locked read-modify-write), and the admin thread reads them with relaxed loads
// and sums the threads at scrape time. Control-side counters (reloads, discovery) are rare and may be bumped from
// any thread, so they use ordinary atomic increments.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace poolgate::admin {

// A monotonic counter written by exactly one thread (its owner) and read by any. Only the owner may change it.
class LocalCounter {
 public:
  LocalCounter() = default;
  LocalCounter(const LocalCounter&) = delete;
  LocalCounter& operator=(const LocalCounter&) = delete;

  void add(std::uint64_t n) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  LocalCounter& operator++() {
    add(1);
    return *this;
  }
  LocalCounter& operator+=(std::uint64_t n) {
    add(n);
    return *this;
  }
  // Owner only: publishes a new running total (never below the previous one).
  void store(std::uint64_t total) { value_.store(total, std::memory_order_relaxed); }
  std::uint64_t load() const { return value_.load(std::memory_order_relaxed); }
  operator std::uint64_t() const { return load(); }  // NOLINT: reads like the plain integer it replaced

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A gauge written by exactly one thread and read by any.
class LocalGauge {
 public:
  LocalGauge() = default;
  LocalGauge(const LocalGauge&) = delete;
  LocalGauge& operator=(const LocalGauge&) = delete;

  void set(std::int64_t value) { value_.store(value, std::memory_order_relaxed); }
  void add(std::int64_t n) { set(load() + n); }
  std::int64_t load() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Backend connect latency, upper bounds in seconds: a loopback or same-rack dial lands in the first buckets, a
// cross-zone one around 1-10 ms, a lost SYN (retransmitted after 1 s) in the last ones.
inline constexpr std::array<double, 14> kConnectBuckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                        0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};

// A duration histogram with the fixed kConnectBuckets, written by one thread. Buckets are stored
// non-cumulatively (one increment per observation) plus an overflow bucket, so a reader's count, computed as
// the sum of the buckets, always agrees with its +Inf bucket.
class LocalHistogram {
 public:
  static constexpr std::size_t kBuckets = kConnectBuckets.size();

  void observe(std::chrono::nanoseconds duration) {
    const double seconds = std::chrono::duration<double>(duration).count();
    std::size_t i = 0;
    while (i < kBuckets && seconds > kConnectBuckets[i]) ++i;
    ++counts_[i];
    sum_nanoseconds_ += static_cast<std::uint64_t>(duration.count() < 0 ? 0 : duration.count());
  }
  // Observations in bucket i alone (i == kBuckets: above the last bound).
  std::uint64_t bucket(std::size_t i) const { return counts_[i].load(); }
  double sum_seconds() const { return static_cast<double>(sum_nanoseconds_.load()) / 1e9; }

 private:
  std::array<LocalCounter, kBuckets + 1> counts_{};
  LocalCounter sum_nanoseconds_;
};

// Counters of the control side, safe to bump from any thread. The Proxy owns one (Proxy::control_counters_);
// endpoint reloads and Kubernetes discovery count their outcomes here.
enum class ReloadResult { success, failure };
enum class DiscoveryResult { success, failure };

class ControlCounters {
 public:
  static constexpr std::array<std::string_view, 2> kReloadResults{"success", "failure"};
  static constexpr std::array<std::string_view, 2> kDiscoveryResults{"success", "failure"};

  void count_reload(ReloadResult result) { reloads_[index(result)].fetch_add(1, std::memory_order_relaxed); }
  void count_discovery_refresh(DiscoveryResult result) {
    discovery_refreshes_[index(result)].fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t reloads(std::size_t result_index) const {
    return reloads_[result_index].load(std::memory_order_relaxed);
  }
  std::uint64_t discovery_refreshes(std::size_t result_index) const {
    return discovery_refreshes_[result_index].load(std::memory_order_relaxed);
  }

 private:
  template <class Enum>
  static constexpr std::size_t index(Enum value) {
    return static_cast<std::size_t>(value);
  }

  std::array<std::atomic<std::uint64_t>, kReloadResults.size()> reloads_{};
  std::array<std::atomic<std::uint64_t>, kDiscoveryResults.size()> discovery_refreshes_{};
};

}  // namespace poolgate::admin

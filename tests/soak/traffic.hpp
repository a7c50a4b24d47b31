// The soak's mixed traffic: short connections (send, half-close, read the echo to EOF), long streams (chunks
// echoed for seconds, then a half-close), and bursts of a thousand concurrent connections; each on its own
// thread until stopped, every exchange checked byte for byte, every failure counted with its reason.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace poolgate::test {

struct TrafficTotals {
  std::atomic<std::uint64_t> short_connections{0};
  std::atomic<std::uint64_t> streams{0};
  std::atomic<std::uint64_t> burst_connections{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> bytes{0};  // sent plus received by the clients

  [[nodiscard]] std::uint64_t served() const { return short_connections + streams + burst_connections; }
};

class MixedTraffic {
 public:
  MixedTraffic(std::uint16_t port, unsigned short_threads, unsigned stream_threads);
  ~MixedTraffic();
  MixedTraffic(const MixedTraffic&) = delete;
  MixedTraffic& operator=(const MixedTraffic&) = delete;

  void stop();
  [[nodiscard]] const TrafficTotals& totals() const { return totals_; }
  [[nodiscard]] std::vector<std::string> failures() const;

 private:
  void short_connections(unsigned thread);
  void streams(unsigned thread);
  void bursts();
  void record_failure(std::string reason);

  std::uint16_t port_;
  std::atomic<bool> stopping_{false};
  TrafficTotals totals_;
  mutable std::mutex failures_mutex_;
  std::vector<std::string> failures_;
  std::vector<std::thread> threads_;
};

}  // namespace poolgate::test

// The --max-connections cap: one count of open client connections shared by every worker thread, and the
// wake-up a worker that frees a slot gives the workers that stopped accepting because the cap was reached.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

namespace poolgate::server {

class ConnectionLimit {
 public:
  // `max` 0: unlimited, and nothing here is ever touched on the connection path.
  explicit ConnectionLimit(unsigned max) : max_(max) {}
  ConnectionLimit(const ConnectionLimit&) = delete;
  ConnectionLimit& operator=(const ConnectionLimit&) = delete;

  [[nodiscard]] bool enabled() const { return max_ > 0; }
  [[nodiscard]] unsigned max() const { return max_; }
  [[nodiscard]] unsigned open() const { return open_.load(std::memory_order_relaxed); }
  [[nodiscard]] bool has_room() const { return open_.load() < max_; }

  // Any thread: takes a slot for one client if the cap allows it.
  bool try_acquire();
  // Any thread: gives a slot back; when the cap had been reached, every registered waker is called.
  void release();

  // Before the workers run: `wake` is called, on the thread that frees a slot at the cap, so that a worker
  // waiting for one looks again. It must be cheap and thread-safe.
  void add_waker(std::function<void()> wake) { wakers_.push_back(std::move(wake)); }
  // After the worker threads have stopped: slots released while sessions are destroyed wake nobody.
  void stop_waking() { waking_.store(false); }

  // Any thread, each time a worker finds the cap reached: true only for the first time of an episode, i.e.
  // after the cap was not seen reached for kQuietSpell, so a cap hit again and again logs once.
  bool note_reached();

  static constexpr std::chrono::seconds kQuietSpell{10};

 private:
  const unsigned max_;
  std::atomic<unsigned> open_{0};
  std::vector<std::function<void()>> wakers_;  // fixed before the workers run, so read without a lock
  std::atomic<bool> waking_{true};
  std::atomic<std::int64_t> last_reached_ns_{0};  // steady clock; 0: never
};

}  // namespace poolgate::server

#include "poolgate/server/connection_limit.hpp"

namespace poolgate::server {

bool ConnectionLimit::try_acquire() {
  unsigned current = open_.load(std::memory_order_relaxed);
  do {
    if (current >= max_) return false;
  } while (!open_.compare_exchange_weak(current, current + 1));
  return true;
}

void ConnectionLimit::release() {
  // Sequentially consistent with the waiting worker's "I wait" store and its has_room() load: either that
  // worker sees this slot free, or this thread sees it waiting and wakes it. No wake-up can fall in between.
  const unsigned before = open_.fetch_sub(1);
  if (before >= max_ && waking_.load()) {
    for (const auto& wake : wakers_) wake();
  }
}

bool ConnectionLimit::note_reached() {
  const std::int64_t now = std::chrono::steady_clock::now().time_since_epoch() / std::chrono::nanoseconds(1);
  const std::int64_t previous = last_reached_ns_.exchange(now, std::memory_order_relaxed);
  return previous == 0 || now - previous > std::chrono::nanoseconds(kQuietSpell).count();
}

}  // namespace poolgate::server

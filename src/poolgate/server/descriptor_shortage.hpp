// How a worker tells that it ran out of file descriptors: one warning when a shortage begins, whichever call
// ran out (an accept, a client's backend dial), and one line when it is over, with how many calls it failed.
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>

namespace poolgate::server {

class DescriptorShortage {
 public:
  using Clock = std::chrono::steady_clock;
  // While descriptors are short, calls fail and succeed by turns as connections come and go. A shortage ends
  // only after this long without a failure, so that the log shows one episode rather than a line per turn.
  static constexpr std::chrono::seconds kQuietSpell{10};

  // A call failed for want of a descriptor. True when this begins a shortage: the caller logs it.
  bool failed(Clock::time_point now) {
    last_failure_ = now;
    ++failures_;
    return !std::exchange(short_, true);
  }

  // Whether a shortage is going on (a cheap test before reading the clock for ended()).
  bool active() const { return short_; }

  // A call that took a descriptor succeeded. If that ends the shortage (no failure for kQuietSpell), returns
  // how many calls failed during it, for the caller to log; otherwise 0.
  std::uint64_t ended(Clock::time_point now) {
    if (!short_ || now - last_failure_ <= kQuietSpell) return 0;
    short_ = false;
    return std::exchange(failures_, 0);
  }

 private:
  bool short_ = false;
  Clock::time_point last_failure_{};
  std::uint64_t failures_ = 0;
};

}  // namespace poolgate::server

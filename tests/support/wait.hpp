// Deadline-bounded polling: the only way these tests wait for something to happen (never a bare sleep).
#pragma once

#include <chrono>
#include <thread>

namespace poolgate::test {

using namespace std::chrono_literals;

inline constexpr std::chrono::milliseconds kPollInterval = 10ms;

// Polls `condition` every `interval` until it holds (true) or `timeout` has passed (false).
template <class Condition>
bool wait_until(Condition&& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = kPollInterval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(interval);
  }
}

// Polls `condition` every `interval` for `duration`; false as soon as one poll finds it violated.
template <class Condition>
bool holds_for(Condition&& condition, std::chrono::milliseconds duration,
               std::chrono::milliseconds interval = kPollInterval) {
  const auto deadline = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!condition()) {
      return false;
    }
    std::this_thread::sleep_for(interval);
  }
  return condition();
}

// Polls `sample` every `interval` for `duration` and returns the largest value it produced.
template <class Sample>
auto peak_of(Sample&& sample, std::chrono::milliseconds duration, std::chrono::milliseconds interval = kPollInterval) {
  auto peak = sample();
  holds_for(
      [&] {
        const auto value = sample();
        peak = value > peak ? value : peak;
        return true;
      },
      duration, interval);
  return peak;
}

// Runs `io` (an io_context the test itself owns) in `slice`-long turns until `condition` holds (true) or `timeout`
// has passed (false): waiting for what the test's own handlers do.
template <class IoContext, class Condition>
bool run_until(IoContext& io, Condition&& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds slice = 2ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.restart();
    io.run_for(slice);
  }
  return true;
}

// Milliseconds elapsed since `start`, for asserting on how long something took.
inline std::chrono::milliseconds elapsed_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

}  // namespace poolgate::test

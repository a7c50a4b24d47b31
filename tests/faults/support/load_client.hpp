// Thousands of concurrent test clients on one epoll thread. A wave opens every connection, each sends bytes of
// its own pattern stream to an echo service, and only once every connection has had its whole echo back (so all
// of them are open at the same moment) are they half-closed; each must then see the echo service's EOF.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace poolgate::test {

using namespace std::chrono_literals;

struct WavePlan {
  std::size_t connections = 0;
  std::size_t bytes_each = 0;
  std::uint64_t seed = 1;  // connection i sends pattern stream seed * 1'000'003 + i
  std::chrono::milliseconds timeout = 60s;
  // Connects in flight at once; more would overflow the listen backlog and wait for SYN retransmits.
  std::size_t connecting_at_once = 512;
  // Called once every connection has received its whole echo and before any is half-closed: the moment all
  // of them are open together (to look at the proxy's descriptors then, for example).
  std::function<void()> at_peak;
};

struct WaveResult {
  std::size_t connected = 0;  // TCP connect completed
  std::size_t echoed = 0;     // received exactly their own bytes
  std::size_t exact = 0;      // ... and then EOF after their half-close: a complete, correct exchange
  std::size_t failed = 0;     // connections - exact
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::vector<std::string> failures;  // the first few reasons
  std::chrono::milliseconds elapsed{0};
};

// Runs a wave against 127.0.0.1:port. Needs 2 descriptors of headroom per connection in this process only for
// the client side (1 each); the caller raises RLIMIT_NOFILE.
WaveResult run_echo_wave(std::uint16_t port, const WavePlan& plan);

// "connected 2000, exact 2000, failed 0, ..." for failure messages and reports.
std::string describe(const WaveResult& result);

}  // namespace poolgate::test

// Every endpoint goes down, then comes back at the same address: while they are down clients are closed at
// once (not held), and once they are back service resumes within the probe backoff (--monitor-interval).
#include "faults/support/fault_fixture.hpp"
#include "faults/support/load_servers.hpp"

#include <iostream>

namespace poolgate::test {
namespace {

constexpr auto kMonitorInterval = 2s;  // the longest probe backoff
constexpr auto kMargin = 1500ms;
// Long enough for the probe backoff to grow to its cap (1 s, then 2 s).
constexpr auto kOutage = 2500ms;
constexpr int kFlaps = 2;

class FlappingTest : public FaultTest {
 protected:
  // A server on `port` again; retried, since a client socket elsewhere may hold the port for a moment.
  static std::unique_ptr<LoadEchoServer> restart_on(std::uint16_t port) {
    std::unique_ptr<LoadEchoServer> server;
    wait_until(
        [&] {
          try {
            server = std::make_unique<LoadEchoServer>(port);
            return true;
          } catch (const std::system_error&) {
            return false;
          }
        },
        5s, 50ms);
    return server;
  }
};

TEST_F(FlappingTest, AllEndpointsDownThenUpServiceResumesWithinTheProbeBackoff) {
  auto first = std::make_unique<LoadEchoServer>();
  auto second = std::make_unique<LoadEchoServer>();
  const std::uint16_t ports[] = {first->port(), second->port()};
  const std::string addresses[] = {first->address(), second->address()};
  start_proxy({"--endpoint", addresses[0], "--endpoint", addresses[1], "--monitor-interval", "2s"});
  ASSERT_TRUE(new_connection_echoes("before"));

  for (int flap = 1; flap <= kFlaps; ++flap) {
    SCOPED_TRACE("flap " + std::to_string(flap));
    first.reset();
    second.reset();
    const auto down_at = std::chrono::steady_clock::now();
    // A client now finds every endpoint refusing: it is closed at once, and the endpoints are marked down.
    std::chrono::milliseconds slowest_rejection{0};
    for (int i = 0; i < 3; ++i) {
      const auto started = std::chrono::steady_clock::now();
      auto client = Client::try_connect(proxy_port());
      ASSERT_TRUE(client) << "poolgate stopped accepting while its endpoints were down";
      EXPECT_TRUE(client->is_closed_by_peer(1s)) << "a client was held while every endpoint was down";
      slowest_rejection = std::max(slowest_rejection, elapsed_since(started));
    }
    EXPECT_TRUE(wait_for_metrics([&](const auto& m) {
      return metric_sum(m, "poolgate_endpoint_up", {{"endpoint", addresses[0]}}) == 0 &&
             metric_sum(m, "poolgate_endpoint_up", {{"endpoint", addresses[1]}}) == 0;
    })) << last_scrape_;
    std::this_thread::sleep_until(down_at + kOutage);  // the outage itself is the subject

    first = restart_on(ports[0]);
    second = restart_on(ports[1]);
    ASSERT_TRUE(first && second) << "could not listen on the endpoints' ports again";
    const auto up_at = std::chrono::steady_clock::now();
    EXPECT_TRUE(wait_until([&] { return new_connection_echoes("after flap " + std::to_string(flap)); },
                           kMonitorInterval + kMargin, 20ms))
        << "service did not resume within the probe backoff";
    const auto resumed_after = elapsed_since(up_at);
    EXPECT_TRUE(wait_for_metrics([&](const auto& m) {
      return metric_sum(m, "poolgate_endpoint_up", {{"endpoint", addresses[0]}}) == 1 &&
             metric_sum(m, "poolgate_endpoint_up", {{"endpoint", addresses[1]}}) == 1;
    }, kMonitorInterval + kMargin)) << last_scrape_;
    std::cout << "[ figures  ] flap " << flap << ": clients rejected within " << slowest_rejection.count()
              << " ms while down; service resumed " << resumed_after.count() << " ms after the endpoints came back\n";
  }
  // One line per endpoint per outage, and one per recovery: no storm from the probes or the pool's redials.
  for (const std::string& address : addresses) {
    EXPECT_EQ(proxy().count_log_lines(std::regex(regex_escape(address) + " is down")), std::size_t{kFlaps});
    EXPECT_EQ(proxy().count_log_lines(std::regex(regex_escape(address) + " is up again")), std::size_t{kFlaps});
  }
}

}  // namespace
}  // namespace poolgate::test

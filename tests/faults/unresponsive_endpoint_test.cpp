// An endpoint that answers no SYN (its host is gone, or its accept queue is full): one client pays at most
// --connect-timeout for finding out, the endpoint is marked down for every thread, and the clients after it
// go to the live endpoint without waiting.
#include "faults/support/fault_fixture.hpp"
#include "faults/support/load_servers.hpp"

#include <iostream>

namespace poolgate::test {
namespace {

constexpr auto kConnectTimeout = 1s;
// Scheduling slack on a busy 2-core machine, on top of what the flags allow.
constexpr auto kMargin = 1500ms;
// A client served by a live loopback endpoint: a few milliseconds; anything near the timeout paid for it.
constexpr auto kPaidNothing = 500ms;
constexpr int kClients = 20;

class UnresponsiveEndpointTest : public FaultTest {};

TEST_F(UnresponsiveEndpointTest, OneClientPaysAtMostTheConnectTimeoutAndTheRestGoElsewhereAtOnce) {
  SilentListener silent;  // its constructor has checked that a connect to it really hangs
  auto live = start_echo_server();
  // No pool: the clients' own dials meet the silent endpoint (a pool would find it out first, off their path).
  start_proxy({"--endpoint", silent.address(), "--endpoint", live->address(), "--pool-max-per-endpoint", "0",
               "--connect-timeout", "1s", "--threads", "1"});

  std::vector<std::chrono::milliseconds> took;
  for (int i = 0; i < kClients; ++i) {
    const auto started = std::chrono::steady_clock::now();
    EXPECT_TRUE(new_connection_echoes("client " + std::to_string(i))) << "client " << i << " was not served";
    took.push_back(elapsed_since(started));
  }
  const int slow = static_cast<int>(std::count_if(took.begin(), took.end(), [](auto t) { return t >= kPaidNothing; }));
  const auto slowest = *std::max_element(took.begin(), took.end());
  // Round robin sends one of the first two clients to the silent endpoint: that one waits the timeout, then
  // fails over; the endpoint is then down and nobody else waits.
  EXPECT_EQ(slow, 1) << "clients that waited for the silent endpoint";
  EXPECT_LT(slowest, kConnectTimeout + kMargin);
  EXPECT_GE(slowest, kConnectTimeout - 100ms) << "no client met the silent endpoint: the scenario did not happen";
  EXPECT_TRUE(wait_for_metrics([&](const auto& m) {
    return metric_sum(m, "poolgate_endpoint_up", {{"endpoint", silent.address()}}) == 0 &&
           metric_sum(m, "poolgate_endpoint_up", {{"endpoint", live->address()}}) == 1;
  })) << last_scrape_;
  EXPECT_EQ(proxy().count_log_lines(std::regex("endpoint " + regex_escape(silent.address()) + " is down")), 1u);

  std::cout << "[ figures  ] silent endpoint, --connect-timeout 1s: the slowest of " << kClients
            << " clients took " << slowest.count() << " ms, " << slow << " client(s) took >= "
            << kPaidNothing.count() << " ms, the others at most "
            << [&] {
                 std::chrono::milliseconds fastest_rest{0};
                 for (auto t : took) {
                   if (t < kPaidNothing) fastest_rest = std::max(fastest_rest, t);
                 }
                 return fastest_rest.count();
               }()
            << " ms\n";
}

TEST_F(UnresponsiveEndpointTest, WithThePoolOnTheSilentEndpointIsFoundOffTheClientsPath) {
  SilentListener silent;
  auto live = start_echo_server();
  start_proxy({"--endpoint", silent.address(), "--endpoint", live->address(), "--connect-timeout", "1s"});
  // The pool's own dials meet the silent endpoint within the connect timeout and mark it down.
  EXPECT_TRUE(wait_for_metrics(
      [&](const auto& m) { return metric_sum(m, "poolgate_endpoint_up", {{"endpoint", silent.address()}}) == 0; },
      kConnectTimeout + kMargin))
      << last_scrape_;
  for (int i = 0; i < kClients; ++i) {
    const auto started = std::chrono::steady_clock::now();
    EXPECT_TRUE(new_connection_echoes("client " + std::to_string(i)));
    EXPECT_LT(elapsed_since(started), kPaidNothing) << "client " << i << " waited for the silent endpoint";
  }
}

}  // namespace
}  // namespace poolgate::test

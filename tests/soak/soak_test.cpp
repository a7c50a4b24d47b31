// `make soak`: 10,000 concurrent connections each with their own bytes, then a minute of mixed traffic while
// the endpoints file is rewritten every few seconds (always at least one live endpoint in it, sometimes a dead
// one too). Not a ctest test: it takes minutes and 100k descriptors. Fails on any failed client connection.
#include "faults/support/fault_fixture.hpp"
#include "faults/support/load_client.hpp"
#include "faults/support/load_servers.hpp"
#include "soak/traffic.hpp"

#include <sys/resource.h>

#include <cstdlib>
#include <iostream>
#include <random>

namespace poolgate::test {
namespace {

constexpr std::size_t kWantedConcurrent = 10'000;
// poolgate needs 2 descriptors per relay (its two sockets) plus splice pipes, which it caps at a quarter of its
// limit; this process needs 2 per connection (client, backend).
constexpr rlim_t kDescriptorsPerConnection = 2;
constexpr rlim_t kDescriptorHeadroom = 1500;
constexpr std::size_t kBytesEach = 4096;
constexpr auto kRewriteEvery = 3s;
// Longer than any soak connection lives: a connection to an endpoint taken out of the file finishes normally.
constexpr const char* kRemovedEndpointGrace = "30s";

// 10,000, or as many as RLIMIT_NOFILE allows when its hard limit cannot be raised (no CAP_SYS_RESOURCE);
// POOLGATE_SOAK_CONCURRENT overrides.
std::size_t concurrent_connections() {
  if (const char* text = std::getenv("POOLGATE_SOAK_CONCURRENT")) return std::strtoul(text, nullptr, 10);
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  const rlim_t for_sockets = limit.rlim_cur - limit.rlim_cur / 4 - kDescriptorHeadroom;
  return std::min<std::size_t>(kWantedConcurrent, for_sockets / kDescriptorsPerConnection);
}

std::chrono::seconds mixed_duration() {
  const char* text = std::getenv("POOLGATE_SOAK_SECONDS");
  return std::chrono::seconds(text ? std::atoi(text) : 60);
}

class SoakTest : public FaultTest {};

TEST_F(SoakTest, TenThousandConcurrentThenAMinuteOfMixedTrafficWithEndpointChanges) {
  // Per connection: this process holds a client and a backend socket, poolgate two sockets (and pipes, within a
  // quarter of its limit).
  const rlim_t wanted = (kWantedConcurrent * kDescriptorsPerConnection + kDescriptorHeadroom) * 4 / 3;
  if (!raise_descriptor_limit(wanted)) {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    raise_descriptor_limit(limit.rlim_max);
    std::cout << "NOTE: RLIMIT_NOFILE cannot be raised to " << wanted << " here (hard limit " << limit.rlim_max
              << ", no CAP_SYS_RESOURCE): the concurrent wave is cut to what the limit allows\n";
  }
  const std::size_t kConcurrent = concurrent_connections();
  std::vector<std::unique_ptr<LoadEchoServer>> live;
  for (int i = 0; i < 3; ++i) live.push_back(std::make_unique<LoadEchoServer>());
  const std::string dead = "127.0.0.1:" + std::to_string(unused_loopback_port());
  const auto endpoints_file = temp_dir_ / "endpoints.json";
  write_endpoints(endpoints_file, {live[0]->address(), live[1]->address(), live[2]->address()});
  start_proxy({"--endpoints", endpoints_file.string(), "--removed-endpoint-grace", kRemovedEndpointGrace,
               "--monitor-interval", "2s"});
  const long idle_fds = settled_descriptors();
  const long idle_rss = proxy_rss_kib();

  long peak_fds = 0;
  long rss_at_peak = 0;
  WavePlan plan;
  plan.connections = kConcurrent;
  plan.bytes_each = kBytesEach;
  plan.seed = 7;
  plan.timeout = 180s;
  plan.at_peak = [&] {
    peak_fds = proxy_descriptors();
    rss_at_peak = proxy_rss_kib();
  };
  const WaveResult wave = run_echo_wave(proxy_port(), plan);
  EXPECT_EQ(wave.exact, kConcurrent) << describe(wave);
  EXPECT_TRUE(wait_for_metrics([](const auto& m) { return metric_sum(m, "poolgate_connections_active") == 0; }, 30s));
  const long after_wave_fds = settled_descriptors();
  const long after_wave_rss = proxy_rss_kib();

  // A minute of mixed traffic while the endpoint set keeps changing.
  std::atomic<bool> rewriting{true};
  std::atomic<int> rewrites{0};
  std::thread rewriter([&] {
    std::mt19937 random(12345);
    while (rewriting) {
      std::vector<std::string> set;
      while (set.empty()) {
        for (const auto& server : live) {
          if (random() % 2 == 0) set.push_back(server->address());
        }
      }
      if (random() % 3 == 0) set.push_back(dead);  // failover to the live ones must hide it
      write_endpoints(endpoints_file, set);
      ++rewrites;
      wait_until([&] { return !rewriting; }, kRewriteEvery, 50ms);
    }
  });
  const auto mixed_started = std::chrono::steady_clock::now();
  MixedTraffic traffic(proxy_port(), 3, 2);
  long mixed_peak_fds = 0;
  wait_until(
      [&] {
        mixed_peak_fds = std::max(mixed_peak_fds, proxy_descriptors());
        return false;
      },
      mixed_duration(), 200ms);
  traffic.stop();
  rewriting = false;
  rewriter.join();
  const auto mixed_took = elapsed_since(mixed_started);
  const TrafficTotals& totals = traffic.totals();
  EXPECT_EQ(totals.failed.load(), 0u);
  for (const std::string& failure : traffic.failures()) ADD_FAILURE() << failure;
  EXPECT_TRUE(proxy().running());

  EXPECT_TRUE(wait_for_metrics([](const auto& m) { return metric_sum(m, "poolgate_connections_active") == 0; }, 30s));
  const long end_fds = settled_descriptors();
  const long end_rss = proxy_rss_kib();
  const long peak_rss = peak_resident_kib(proxy_pid());
  const auto metrics = samples();

  std::cout << "\n===== poolgate soak figures =====\n"
            << "concurrent wave: " << kConcurrent << " connections x " << kBytesEach << " B each way: "
            << describe(wave) << "\n"
            << "  poolgate fds idle " << idle_fds << ", at the peak " << peak_fds << ", after " << after_wave_fds
            << "; RSS KiB idle " << idle_rss << ", at the peak " << rss_at_peak << ", after " << after_wave_rss
            << "\n"
            << "mixed traffic: " << mixed_took.count() / 1000.0 << " s, " << rewrites.load()
            << " endpoint file rewrites; served " << totals.served() << " connections (" << totals.short_connections
            << " short, " << totals.streams << " streams, " << totals.burst_connections
            << " in bursts of 1000), moved " << totals.bytes / (1024 * 1024) << " MiB (client side, both ways), "
            << totals.failed << " failed\n"
            << "  poolgate fds peak " << mixed_peak_fds << ", at the end " << end_fds << "; RSS KiB at the end "
            << end_rss << ", peak over the whole soak " << peak_rss << "\n"
            << "poolgate's own count: accepted " << metric_sum(metrics, "poolgate_connections_accepted_total")
            << ", rejected " << metric_sum(metrics, "poolgate_connections_rejected_total") << ", bytes relayed "
            << (metric_sum(metrics, "poolgate_bytes_total") / (1024 * 1024)) << " MiB, backend connect errors "
            << metric_sum(metrics, "poolgate_backend_connect_errors_total") << "\n"
            << "failed client connections: " << wave.failed + totals.failed << "\n"
            << "=================================\n";
}

}  // namespace
}  // namespace poolgate::test

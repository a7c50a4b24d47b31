// Thousands of clients at once: each gets exactly its own bytes back, and once they are gone poolgate's
// descriptors and memory come back to where they were (a second identical wave proves nothing accumulates).
#include "faults/support/fault_fixture.hpp"
#include "faults/support/load_client.hpp"
#include "faults/support/load_servers.hpp"

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace poolgate::test {
namespace {

constexpr std::size_t kClients = 2000;
constexpr std::size_t kBytesEach = 4096;
constexpr unsigned kThreads = 2;
constexpr long kPoolMax = 4;
// Per connection poolgate holds a client and a backend socket and, while relaying, a pipe per direction.
constexpr long kDescriptorsPerRelay = 6;
// What poolgate may legitimately keep after a burst: each thread's pipe cache (PipePool keeps up to 256
// pipes, 2 descriptors each) and a warm pool grown to its maximum.
constexpr long kKeptAfterBurst = 2 * 256 * kThreads + kPoolMax;
// Between two identical waves nothing may accumulate: only the warm pool's size may differ.
constexpr long kDescriptorDriftPerWave = kPoolMax + 2;
// ThreadSanitizer keeps shadow memory for every heap address ever touched (several times the heap itself) and
// caches per thread, so under it the memory bounds are scaled by that overhead; the other builds use them as is.
#if defined(__SANITIZE_THREAD__)
constexpr long kSanitizerMemoryFactor = 4;
#else
constexpr long kSanitizerMemoryFactor = 1;
#endif
constexpr long kRssRetainedAfterBurstKib = 32 * 1024 * kSanitizerMemoryFactor;
constexpr long kRssDriftPerWaveKib = 4 * 1024 * kSanitizerMemoryFactor;

class ConcurrencyTest : public FaultTest {};

// Under AddressSanitizer freed memory waits in a quarantine (256 MiB by default) before reuse, so poolgate's RSS
// after a burst would measure the quarantine. A small one keeps use-after-free detection for recent frees and
// lets RSS show what poolgate itself keeps.
std::vector<std::string> sanitizer_environment() {
#if defined(__SANITIZE_ADDRESS__)
  const char* inherited = std::getenv("ASAN_OPTIONS");
  return {std::string("ASAN_OPTIONS=") + (inherited ? std::string(inherited) + ":" : "") + "quarantine_size_mb=4"};
#else
  return {};
#endif
}

TEST_F(ConcurrencyTest, TwoThousandConcurrentClientsGetExactlyTheirOwnBytesAndResourcesReturnToIdle) {
  // This process holds both ends the proxy does not: a client and a backend socket per connection.
  ASSERT_TRUE(raise_descriptor_limit(kClients * kDescriptorsPerRelay + 4096))
      << "the fault suite needs RLIMIT_NOFILE of " << kClients * kDescriptorsPerRelay + 4096;
  LoadEchoServer backend;
  start_proxy({"--endpoint", backend.address(), "--threads", std::to_string(kThreads), "--pool-max-per-endpoint",
               std::to_string(kPoolMax)},
              sanitizer_environment());
  const long idle_fds = settled_descriptors();
  const long idle_rss = proxy_rss_kib();

  long peak_fds = 0;
  WavePlan plan;
  plan.connections = kClients;
  plan.bytes_each = kBytesEach;
  plan.seed = 1;
  plan.at_peak = [&] { peak_fds = proxy_descriptors(); };
  const WaveResult first = run_echo_wave(proxy_port(), plan);
  EXPECT_EQ(first.exact, kClients) << describe(first);
  // Every client was open at the peak, and so were their backend connections: poolgate held them all at once.
  EXPECT_GE(peak_fds, idle_fds + 2 * static_cast<long>(kClients)) << "poolgate did not hold every pair at once";
  // What stays open at the backend is the warm pool, nothing of the clients'.
  EXPECT_TRUE(wait_until([&] { return backend.open_count() <= static_cast<std::size_t>(kPoolMax); }, 10s))
      << backend.open_count() << " backend connections still open after every client closed";
  EXPECT_TRUE(wait_for_metrics([](const auto& m) { return metric_sum(m, "poolgate_connections_active") == 0; }))
      << last_scrape_;
  const long after_first_fds = wait_descriptors_at_most(idle_fds + kKeptAfterBurst);
  EXPECT_LE(after_first_fds, idle_fds + kKeptAfterBurst);
  const long after_first_rss = proxy_rss_kib();
  EXPECT_LE(after_first_rss - idle_rss, kRssRetainedAfterBurstKib);
  const long settled_first_fds = settled_descriptors();

  plan.seed = 2;
  const WaveResult second = run_echo_wave(proxy_port(), plan);
  EXPECT_EQ(second.exact, kClients) << describe(second);
  const long after_second_fds = wait_descriptors_at_most(settled_first_fds + kDescriptorDriftPerWave);
  EXPECT_LE(after_second_fds, settled_first_fds + kDescriptorDriftPerWave) << "descriptors accumulate per wave";
  const long after_second_rss = proxy_rss_kib();
  EXPECT_LE(after_second_rss - after_first_rss, kRssDriftPerWaveKib) << "memory accumulates per wave";

  std::cout << "[ figures  ] " << kClients << " concurrent clients x 2 waves, " << kBytesEach << " B each way each: "
            << describe(first) << " | " << describe(second) << "\n"
            << "[ figures  ] poolgate fds idle " << idle_fds << ", peak " << peak_fds << ", after wave 1 "
            << settled_first_fds << ", after wave 2 " << after_second_fds << "; RSS KiB idle " << idle_rss
            << ", after wave 1 " << after_first_rss << ", after wave 2 " << after_second_rss << ", peak "
            << peak_resident_kib(proxy_pid()) << "\n";
}

}  // namespace
}  // namespace poolgate::test

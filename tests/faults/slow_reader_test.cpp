// A client that stops reading while its backend sends hundreds of MiB: poolgate must pass the backpressure on
// (the backend stalls) instead of buffering, so its memory stays flat, and every byte arrives, in order, once
// the client reads again.
#include "faults/support/fault_fixture.hpp"
#include "faults/support/load_servers.hpp"
#include "faults/support/pattern.hpp"

#include <iostream>

namespace poolgate::test {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;
constexpr std::uint64_t kStreamBytes = 256 * kMiB;
constexpr std::uint64_t kSeed = 42;
constexpr auto kReadingStops = 3s;  // the window is the subject: how long the client does not read
// Kernel socket buffers on loopback (client receive, poolgate send and receive, backend send) hold at most a
// few tens of MiB; a proxy that buffers in user space would let the backend run far beyond that.
constexpr std::uint64_t kMostInFlight = 64 * kMiB;
constexpr long kMostRssGrowthKib = 16 * 1024;

class SlowReaderTest : public FaultTest {};

// Reads `size` bytes at stream offset `offset` and checks they are the pattern's; false on anything else.
bool read_and_check(Client& client, std::uint64_t offset, std::size_t size, std::string& failure) {
  const auto bytes = client.recv_exact(size, 10s);
  if (!bytes) {
    failure = "stream ended or stalled at offset " + std::to_string(offset);
    return false;
  }
  if (!matches_pattern(kSeed, offset, bytes->data(), bytes->size())) {
    failure = "wrong bytes at offset " + std::to_string(offset);
    return false;
  }
  return true;
}

TEST_F(SlowReaderTest, MemoryStaysFlatWhileTheClientStallsAndEveryByteArrivesAfterwards) {
  StreamServer backend(kSeed, kStreamBytes);
  // No pool: the client's own dial is the only connection the stream server sees.
  start_proxy({"--endpoint", backend.address(), "--pool-max-per-endpoint", "0"});
  settled_descriptors();
  const long idle_rss = proxy_rss_kib();

  Client client = connect_client();
  std::string failure;
  std::uint64_t offset = 0;
  ASSERT_TRUE(read_and_check(client, offset, kMiB, failure)) << failure;
  offset += kMiB;

  const std::uint64_t sent_when_stopped = backend.bytes_sent();
  const long peak_rss_while_stalled = peak_of([&] { return proxy_rss_kib(); }, kReadingStops, 50ms);
  const std::uint64_t sent_while_stalled = backend.bytes_sent();
  EXPECT_LT(sent_while_stalled, kMostInFlight) << "the backend was not held back while the client did not read";
  EXPECT_LT(peak_rss_while_stalled - idle_rss, kMostRssGrowthKib) << "poolgate buffered the stalled stream";

  const auto resumed = std::chrono::steady_clock::now();
  while (offset < kStreamBytes && failure.empty()) {
    const std::size_t size = std::min<std::uint64_t>(kMiB, kStreamBytes - offset);
    if (read_and_check(client, offset, size, failure)) offset += size;
  }
  const auto transfer = elapsed_since(resumed);
  EXPECT_EQ(offset, kStreamBytes) << failure;
  EXPECT_EQ(client.wait_for_peer_close(10s), PeerClose::eof) << "the end of the stream was not a clean FIN";
  const long peak_rss = peak_resident_kib(proxy_pid());
  EXPECT_LT(peak_rss - idle_rss, kMostRssGrowthKib) << "poolgate's memory peaked while relaying the stream";

  std::cout << "[ figures  ] " << kStreamBytes / kMiB << " MiB streamed to a client that paused "
            << std::chrono::duration_cast<std::chrono::milliseconds>(kReadingStops).count() << " ms: backend sent "
            << sent_when_stopped / kMiB << " MiB when the client stopped, " << sent_while_stalled / kMiB
            << " MiB by the end of the pause; poolgate RSS idle " << idle_rss << " KiB, peak during the pause "
            << peak_rss_while_stalled << " KiB, peak overall " << peak_rss << " KiB; the remaining "
            << (kStreamBytes - kMiB) / kMiB << " MiB arrived in " << transfer.count() << " ms\n";
}

}  // namespace
}  // namespace poolgate::test

#include "soak/traffic.hpp"

#include "faults/support/load_client.hpp"
#include "faults/support/pattern.hpp"
#include "support/client.hpp"

namespace poolgate::test {
namespace {

using namespace std::chrono_literals;

// Short connections are paced so a minute of them stays within the loopback's ephemeral ports.
constexpr auto kShortPace = 5ms;
constexpr auto kStreamLength = 2s;
constexpr std::size_t kStreamChunk = 64 * 1024;
constexpr auto kBurstEvery = 5s;
constexpr std::size_t kBurstSize = 1000;
constexpr std::size_t kFailuresKept = 20;

// Distinct pattern streams for every exchange of every thread.
std::uint64_t seed_for(unsigned kind, unsigned thread, std::uint64_t round) {
  return (static_cast<std::uint64_t>(kind) << 56) ^ (static_cast<std::uint64_t>(thread) << 48) ^ round;
}

}  // namespace

MixedTraffic::MixedTraffic(std::uint16_t port, unsigned short_threads, unsigned stream_threads) : port_(port) {
  for (unsigned i = 0; i < short_threads; ++i) threads_.emplace_back([this, i] { short_connections(i); });
  for (unsigned i = 0; i < stream_threads; ++i) threads_.emplace_back([this, i] { streams(i); });
  threads_.emplace_back([this] { bursts(); });
}

MixedTraffic::~MixedTraffic() { stop(); }

void MixedTraffic::stop() {
  stopping_ = true;
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

std::vector<std::string> MixedTraffic::failures() const {
  std::lock_guard lock(failures_mutex_);
  return failures_;
}

void MixedTraffic::record_failure(std::string reason) {
  ++totals_.failed;
  std::lock_guard lock(failures_mutex_);
  if (failures_.size() < kFailuresKept) failures_.push_back(std::move(reason));
}

void MixedTraffic::short_connections(unsigned thread) {
  for (std::uint64_t round = 0; !stopping_; ++round) {
    const auto started = std::chrono::steady_clock::now();
    const std::size_t size = 1 + (round * 7919 + thread * 104729) % (16 * 1024);
    const std::string payload = pattern_bytes(seed_for(1, thread, round), 0, size);
    auto client = Client::try_connect(port_);
    if (!client) {
      record_failure("short connection: connect failed");
    } else if (auto echoed = client->round_trip_with_half_close(payload, 10s); echoed != payload) {
      record_failure("short connection of " + std::to_string(size) + " B: " +
                     (echoed ? "got " + std::to_string(echoed->size()) + " B, not its own" : "reset or timed out"));
    } else {
      ++totals_.short_connections;
      totals_.bytes += 2 * size;
    }
    std::this_thread::sleep_until(started + kShortPace);
  }
}

void MixedTraffic::streams(unsigned thread) {
  for (std::uint64_t round = 0; !stopping_; ++round) {
    const std::uint64_t seed = seed_for(2, thread, round);
    auto client = Client::try_connect(port_);
    if (!client) {
      record_failure("stream: connect failed");
      continue;
    }
    const auto until = std::chrono::steady_clock::now() + kStreamLength;
    std::uint64_t offset = 0;
    bool ok = true;
    while (ok && std::chrono::steady_clock::now() < until) {
      const std::string chunk = pattern_bytes(seed, offset, kStreamChunk);
      ok = client->echo(chunk, 10s) == chunk;
      offset += kStreamChunk;
    }
    // The last chunk goes with a half-close: the echo and then the EOF must come back.
    const std::string last = pattern_bytes(seed, offset, kStreamChunk);
    ok = ok && client->round_trip_with_half_close(last, 10s) == last;
    if (!ok) {
      record_failure("stream at offset " + std::to_string(offset) + ": wrong bytes, reset or timeout");
    } else {
      ++totals_.streams;
      totals_.bytes += 2 * (offset + kStreamChunk);
    }
  }
}

void MixedTraffic::bursts() {
  for (std::uint64_t round = 1; !stopping_; ++round) {
    const auto started = std::chrono::steady_clock::now();
    WavePlan plan;
    plan.connections = kBurstSize;
    plan.bytes_each = 2048;
    plan.seed = seed_for(3, 0, round);
    plan.timeout = 30s;
    const WaveResult wave = run_echo_wave(port_, plan);
    totals_.burst_connections += wave.exact;
    totals_.bytes += wave.bytes_sent + wave.bytes_received;
    for (std::size_t i = 0; i < wave.failed; ++i) {
      record_failure("burst " + std::to_string(round) + ": " +
                     (i < wave.failures.size() ? wave.failures[i] : std::string("(reason not kept)")));
    }
    while (!stopping_ && std::chrono::steady_clock::now() < started + kBurstEvery) {
      std::this_thread::sleep_for(50ms);
    }
  }
}

}  // namespace poolgate::test

// Resets in the middle of a stream, from either side: the other side learns it promptly (as a reset, the
// way the design passes them on), nothing is left open in poolgate, and the log does not grow per connection.
#include "faults/support/fault_fixture.hpp"
#include "faults/support/pattern.hpp"

#include <iostream>

namespace poolgate::test {
namespace {

constexpr std::size_t kClients = 100;
constexpr std::size_t kChunkBytes = 16 * 1024;
constexpr auto kPromptly = 2s;
// A handful of lines at most (an "endpoint is down" would already be one too many here), never one per reset.
constexpr std::size_t kMostNewLogLines = 3;
// After a round poolgate may keep the relays' pipes (at most 2 per connection, 2 descriptors each) in its
// per-thread cache, as many as were in use at once, which differs from round to round; and its warm pool,
// refilled. So its sockets must come back to their idle count (give or take the pool's slack) after every round,
// and all its descriptors within the pipe cache on top.
constexpr long kPipeCache = 2 * 2 * static_cast<long>(kClients);
constexpr long kPoolMax = 4;
constexpr long kPoolSlack = kPoolMax + 2;  // the warm pool refills (with backoff) after the backend's resets

class ResetTest : public FaultTest {
 protected:
  // kClients clients through poolgate, each mid-stream: it has sent a chunk and read its echo.
  std::vector<Client> clients_mid_stream() {
    std::vector<Client> clients;
    for (std::size_t i = 0; i < kClients; ++i) {
      Client client = connect_client();
      const std::string chunk = pattern_bytes(i, 0, kChunkBytes);
      EXPECT_EQ(client.echo(chunk), chunk) << "client " << i;
      clients.push_back(std::move(client));
    }
    return clients;
  }

  struct Leftovers {
    long sockets;
    long descriptors;
  };
  // Waits for poolgate's sockets to come back to `idle_sockets` and its descriptors to `idle_fds`, each with what
  // it may keep (see kPipeCache), and checks that they did.
  Leftovers wait_for_leftovers(long idle_sockets, long idle_fds) {
    const Leftovers left{wait_sockets_at_most(idle_sockets + kPoolSlack),
                         wait_descriptors_at_most(idle_fds + kPipeCache + kPoolSlack)};
    EXPECT_LE(left.sockets, idle_sockets + kPoolSlack) << "sockets left behind by the reset connections";
    EXPECT_LE(left.descriptors, idle_fds + kPipeCache + kPoolSlack) << "descriptors left behind beyond the pipe cache";
    return left;
  }
};

TEST_F(ResetTest, BackendResetMidStreamResetsEveryClientPromptlyWithoutLeaksOrLogStorm) {
  auto backend = start_echo_server();
  start_proxy(endpoint_args({backend.get()}) +
              Args{"--threads", "1", "--pool-max-per-endpoint", std::to_string(kPoolMax)});
  const long idle_fds = settled_descriptors();
  const long idle_sockets = proxy_sockets();
  const std::size_t lines_before = log_lines();
  for (int round = 1; round <= 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<Client> clients = clients_mid_stream();
    const auto reset_at = std::chrono::steady_clock::now();
    backend->reset_connections();
    std::size_t resets = 0;
    std::size_t still_open = 0;
    for (Client& client : clients) {
      const PeerClose how = client.wait_for_peer_close(kPromptly);
      resets += how == PeerClose::reset ? 1 : 0;
      still_open += how == PeerClose::still_open ? 1 : 0;
    }
    const auto all_ended = elapsed_since(reset_at);
    EXPECT_EQ(still_open, 0u) << "clients still open " << kPromptly.count() << " s after their backend reset";
    EXPECT_EQ(resets, kClients) << "a backend reset reached the client as something else than a reset";
    EXPECT_LT(all_ended, kPromptly);
    clients.clear();
    const Leftovers left = wait_for_leftovers(idle_sockets, idle_fds);
    // A reset mid-stream says nothing about the endpoint's health: the next client is served at once.
    EXPECT_TRUE(new_connection_echoes("still serving"));
    std::cout << "[ figures  ] round " << round << ": backend reset " << kClients << " streams: all clients ended ("
              << resets << " as resets) within " << all_ended.count() << " ms; poolgate sockets idle "
              << idle_sockets << ", after " << left.sockets << "; descriptors idle " << idle_fds << ", after "
              << left.descriptors << "\n";
  }
  EXPECT_LE(log_lines() - lines_before, kMostNewLogLines) << proxy().log_text();
  std::cout << "[ figures  ] new log lines over both rounds: " << log_lines() - lines_before << "\n";
}

TEST_F(ResetTest, ClientResetMidStreamResetsEveryBackendConnectionPromptlyWithoutLeaksOrLogStorm) {
  auto backend = start_echo_server();
  start_proxy(endpoint_args({backend.get()}) +
              Args{"--threads", "1", "--pool-max-per-endpoint", std::to_string(kPoolMax)});
  const long idle_fds = settled_descriptors();
  const long idle_sockets = proxy_sockets();
  const std::size_t open_before = backend->open_count();  // the warm pool's sockets
  const std::size_t lines_before = log_lines();
  for (int round = 1; round <= 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<Client> clients = clients_mid_stream();
    const std::size_t backend_resets_before = backend->resets_seen();
    const auto reset_at = std::chrono::steady_clock::now();
    for (Client& client : clients) client.abort();
    const bool backend_saw_all =
        wait_until([&] { return backend->resets_seen() - backend_resets_before == kClients; }, kPromptly);
    const auto all_ended = elapsed_since(reset_at);
    EXPECT_TRUE(backend_saw_all) << backend->resets_seen() - backend_resets_before << " of " << kClients
                                 << " client resets reached the backend as resets";
    EXPECT_TRUE(wait_until([&] { return backend->open_count() <= open_before + kPoolSlack; }, kPromptly))
        << backend->open_count() << " backend connections still open";
    const Leftovers left = wait_for_leftovers(idle_sockets, idle_fds);
    EXPECT_TRUE(new_connection_echoes("still serving"));
    std::cout << "[ figures  ] round " << round << ": " << kClients << " clients reset mid-stream: the backend saw "
              << backend->resets_seen() - backend_resets_before << " resets within " << all_ended.count()
              << " ms; poolgate sockets idle " << idle_sockets << ", after " << left.sockets << "; descriptors idle "
              << idle_fds << ", after " << left.descriptors << "\n";
  }
  EXPECT_LE(log_lines() - lines_before, kMostNewLogLines) << proxy().log_text();
  std::cout << "[ figures  ] new log lines over both rounds: " << log_lines() - lines_before << "\n";
}

}  // namespace
}  // namespace poolgate::test

// Relay behaviour: bytes, banners, half-close and resets pass through poolgate unchanged.
#include "poolgate_fixture.hpp"

#include <random>
#include <set>

namespace poolgate::test {
namespace {

// Every byte value, in an order that would expose reordering, loss or duplication of chunks.
std::string random_bytes(std::size_t size) {
  std::mt19937 generator{20240601};
  std::uniform_int_distribution<int> byte{0, 255};
  std::string bytes(size, '\0');
  for (char& c : bytes) {
    c = static_cast<char>(byte(generator));
  }
  return bytes;
}

std::size_t first_difference(const std::string& a, const std::string& b) {
  const auto [left, right] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  return static_cast<std::size_t>(left - a.begin());
}

class RelayTest : public PoolgateTest {};

TEST_F(RelayTest, FourMebibytesRoundTripIntactAndHalfCloseReachesBothEnds) {
  const auto backend = start_echo_server();
  start_proxy(endpoint_args({backend.get()}));
  const std::string payload = random_bytes(4 << 20);

  // Returns only once EOF arrives after our own shutdown(SHUT_WR): our FIN reached the backend, which
  // finished echoing and closed, and its FIN came back after the last byte.
  const auto echoed = connect_client().round_trip_with_half_close(payload, 30s);

  ASSERT_TRUE(echoed.has_value()) << "no EOF after the echo (reset, early close or timeout)";
  ASSERT_EQ(echoed->size(), payload.size());
  EXPECT_TRUE(*echoed == payload) << "first differing byte at offset " << first_difference(*echoed, payload);
}

TEST_F(RelayTest, EachSequentialClientGetsExactlyOneUniqueBannerAndOnlyItsOwnBytes) {
  const auto backend = start_banner_echo_server();
  start_proxy(endpoint_args({backend.get()}));
  constexpr int kClients = 200;
  std::set<std::string> banners_seen;

  for (int i = 0; i < kClients; ++i) {
    Client client = connect_client();
    const auto banner = client.recv_line();
    ASSERT_TRUE(banner.has_value()) << "client " << i << " got no banner";
    ASSERT_TRUE(banner->starts_with("banner-")) << "client " << i << " got " << *banner;
    ASSERT_TRUE(banners_seen.insert(*banner).second) << "client " << i << " got a reused banner " << *banner;

    const std::string payload = "payload of client " + std::to_string(i);
    ASSERT_TRUE(client.send_all(payload));
    client.shutdown_write();
    // Everything after the banner, up to EOF: a second banner or another client's bytes would show here.
    EXPECT_EQ(client.recv_until_eof(), payload) << "client " << i;
  }
  EXPECT_GE(backend->accepted_count(), static_cast<std::size_t>(kClients));
}

TEST_F(RelayTest, ClientIsClosedPromptlyWhenNoEndpointIsReachable) {
  start_proxy({"--endpoint", "127.0.0.1:" + std::to_string(unused_loopback_port()),  //
               "--endpoint", "127.0.0.1:" + std::to_string(unused_loopback_port()),  //
               "--connect-timeout", "200ms"});

  for (int attempt = 0; attempt < 2; ++attempt) {
    Client client = connect_client();
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(client.is_closed_by_peer(3s)) << "attempt " << attempt << ": client left hanging";
    EXPECT_LT(elapsed_since(start), 3s);
  }
  EXPECT_TRUE(proxy().running());
}

TEST_F(RelayTest, ClientResetIsPassedToTheBackend) {
  const auto backend = start_echo_server();
  // No pool: the backend's only connection is the one serving our client.
  start_proxy(endpoint_args({backend.get()}) + Args{"--pool-max-per-endpoint", "0"});
  Client client = connect_client();
  ASSERT_EQ(client.echo("hello"), "hello");
  ASSERT_EQ(backend->open_count(), 1u);

  client.abort();

  EXPECT_TRUE(wait_until([&] { return backend->open_count() == 0; }, 3s)) << "backend connection left open";
  EXPECT_EQ(backend->resets_seen(), 1u) << "the backend saw an orderly close instead of a reset";
}

TEST_F(RelayTest, BackendResetIsPassedToTheClient) {
  const auto backend = start_echo_server();
  start_proxy(endpoint_args({backend.get()}) + Args{"--pool-max-per-endpoint", "0"});
  Client client = connect_client();
  ASSERT_EQ(client.echo("hello"), "hello");

  backend->reset_connections();

  EXPECT_EQ(client.wait_for_peer_close(3s), PeerClose::reset);
}

}  // namespace
}  // namespace poolgate::test

// The warm pool: dialed before clients arrive, capped across threads, never hands out a dead socket.
#include "poolgate_fixture.hpp"

#include <thread>

namespace poolgate::test {
namespace {

class PoolTest : public PoolgateTest {};

TEST_F(PoolTest, WithPoolingTheBackendIsDialedBeforeAnyClient) {
  const auto backend = start_echo_server();
  start_proxy(endpoint_args({backend.get()}));

  EXPECT_TRUE(wait_until([&] { return backend->accepted_count() > 0; }, 5s)) << "no warm connection was made";
}

TEST_F(PoolTest, WithoutPoolingTheBackendIsDialedOnlyWhenAClientArrives) {
  const auto backend = start_echo_server();
  start_proxy(endpoint_args({backend.get()}) + Args{"--pool-max-per-endpoint", "0"});

  EXPECT_TRUE(holds_for([&] { return backend->accepted_count() == 0; }, 500ms)) << "dialed with pooling off";

  {
    Client client = connect_client();
    EXPECT_EQ(client.echo("ping"), "ping");
    EXPECT_EQ(backend->accepted_count(), 1u);
  }
  EXPECT_TRUE(holds_for([&] { return backend->accepted_count() == 1; }, 300ms)) << "refilled with pooling off";
}

TEST_F(PoolTest, IdleConnectionsPerEndpointNeverExceedTheCapAcrossThreads) {
  const auto backend = start_echo_server();
  start_proxy(endpoint_args({backend.get()}) + Args{"--pool-max-per-endpoint", "3", "--threads", "2"});
  const auto peak_open = [&] { return peak_of([&] { return backend->open_count(); }, 1s); };
  ASSERT_TRUE(wait_until([&] { return backend->open_count() > 0; }, 5s)) << "pool never warmed up";

  EXPECT_LE(peak_open(), 3u) << "after start-up";

  // Concurrent clients on both worker threads make both of them take from and refill the shared pool.
  const auto clients_in_a_row = [this] {
    for (int i = 0; i < 10; ++i) {
      EXPECT_TRUE(new_connection_echoes("x"));
    }
  };
  std::thread other(clients_in_a_row);
  clients_in_a_row();
  other.join();
  // The backend sees the used connections close a moment after the clients left.
  ASSERT_TRUE(wait_until([&] { return backend->open_count() <= 3; }, 5s));

  EXPECT_LE(peak_open(), 3u) << "after clients took and the threads refilled connections";
}

TEST_F(PoolTest, PooledConnectionsClosedByTheBackendAreNeverHandedToClients) {
  const auto backend = start_unused_closing_echo_server(200ms);
  start_proxy(endpoint_args({backend.get()}) + Args{"--pool-max-per-endpoint", "4"});
  ASSERT_TRUE(wait_until([&] { return backend->closed_unused_count() > 0; }, 5s))
      << "the backend never closed a warm connection, so the test proves nothing";
  const std::size_t closed_before_rounds = backend->closed_unused_count();

  for (int round = 0; round < 4; ++round) {
    // Right after a sweep every warm connection poolgate held before it is dead, and the next sweep is
    // 200 ms away, so a client failing here got a socket the backend had already closed.
    ASSERT_TRUE(backend->wait_for_next_sweep(2s));
    for (int i = 0; i < 5; ++i) {
      EXPECT_TRUE(new_connection_echoes("round " + std::to_string(round))) << "round " << round << " client " << i;
    }
  }
  EXPECT_GT(backend->closed_unused_count(), closed_before_rounds) << "poolgate stopped re-dialing";
}

}  // namespace
}  // namespace poolgate::test

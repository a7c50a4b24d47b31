// Covers relay::relay's waits on sockets that report TCP_INQ, as poolgate's own do: after a read that emptied
// the socket the relay waits for the next edge without re-arming epoll, so a FIN that arrived together with the
// last bytes must still be seen.
#include "poolgate/pool/dialer.hpp"

#include "relay_pair.hpp"

#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <string>

namespace poolgate::relay {
namespace {

using namespace std::chrono_literals;
using unit::tcp;

// A relay whose sockets have poolgate's socket options (TCP_INQ among them), already waiting on both sides.
struct RelayFixture : RelayBetweenPairs {
  void SetUp() override {
    pool::set_client_socket_options(client_side.server.native_handle());
    pool::set_client_socket_options(backend_side.client.native_handle());
    start_relay();
    unit::run_for(io, 20ms);  // both directions have read their socket empty and wait
  }
};

TEST_F(RelayFixture, ALastMessageAndItsFinArrivingTogetherBothReachTheBackend) {
  // Both land in the relay's socket before the relay runs again: one edge for the two.
  boost::asio::write(client_side.client, boost::asio::buffer(std::string("last words")));
  client_side.client.shutdown(tcp::socket::shutdown_send);
  std::string arrived;
  bool ended = false;
  ASSERT_TRUE(unit::run_until(io, [&] {
    char buffer[64];
    boost::system::error_code ec;
    while (!ended && backend_side.server.available(ec) > 0) {
      arrived.append(buffer, backend_side.server.read_some(boost::asio::buffer(buffer), ec));
    }
    pollfd probe{backend_side.server.native_handle(), POLLRDHUP, 0};
    ended = ended || (::poll(&probe, 1, 0) > 0 && backend_side.server.available(ec) == 0);
    return ended;
  })) << "the FIN that came with the last bytes never reached the backend; arrived: \"" << arrived << "\"";
  EXPECT_EQ(arrived, "last words");
}

TEST_F(RelayFixture, ALastMessageAndAResetArrivingTogetherReachTheBackendAsTheMessageThenAReset) {
  // TCP_INQ counts a pending FIN but not a pending reset: the read that returns the last bytes says "nothing
  // left", and only the next read reports the reset. One epoll event carries both.
  boost::asio::write(client_side.client, boost::asio::buffer(std::string("last words")));
  unit::close_with_reset(client_side.client);
  std::string arrived;
  boost::system::error_code ending;
  backend_side.server.non_blocking(true);
  ASSERT_TRUE(unit::run_until(io, [&] {
    char buffer[64];
    const std::size_t n = backend_side.server.read_some(boost::asio::buffer(buffer), ending);
    arrived.append(buffer, n);
    return ending && ending != boost::asio::error::would_block;
  })) << "the reset that came with the last bytes never reached the backend; arrived: \"" << arrived << "\"";
  EXPECT_EQ(arrived, "last words");
  EXPECT_EQ(ending, boost::asio::error::connection_reset) << "the client's reset reached the backend as: "
                                                           << ending.message();
  ASSERT_TRUE(unit::run_until(io, [&] { return finished; }));
}

TEST_F(RelayFixture, ManyRoundTripsBothWaysNeverStall) {
  for (int round = 0; round < 300; ++round) {
    const std::string request = "request " + std::to_string(round);
    boost::asio::write(client_side.client, boost::asio::buffer(request));
    ASSERT_TRUE(unit::run_until(io, [&] { return backend_side.server.available() >= request.size(); }))
        << "request " << round << " stalled";
    ASSERT_EQ(unit::read_exactly(backend_side.server, request.size()), request);
    const std::string answer = "answer " + std::to_string(round);
    boost::asio::write(backend_side.server, boost::asio::buffer(answer));
    ASSERT_TRUE(unit::run_until(io, [&] { return client_side.client.available() >= answer.size(); }))
        << "answer " << round << " stalled";
    ASSERT_EQ(unit::read_exactly(client_side.client, answer.size()), answer);
  }
  client_side.client.shutdown(tcp::socket::shutdown_send);
  backend_side.server.shutdown(tcp::socket::shutdown_send);
  ASSERT_TRUE(unit::run_until(io, [&] { return finished; })) << "the relay did not end after both FINs";
}

TEST_F(RelayFixture, ABackendResetThatTheRelayFirstMeetsInASendReachesTheClientAsAReset) {
  // The client's bytes arrive, then the backend resets, both before the relay runs again: the relay forwards the
  // bytes first, and that send() takes the backend socket's one report of the reset. The other direction then
  // reads a plain end of stream from the backend socket, which must still reach the client as a reset. (The
  // client's bytes were all read, so no unread data turns the final close into a reset by itself.)
  boost::asio::write(client_side.client, boost::asio::buffer(std::string("one more request")));
  ASSERT_TRUE(unit::eventually([&] { return client_side.server.available() > 0; }));
  unit::close_with_reset(backend_side.server);

  boost::system::error_code ending;
  client_side.client.non_blocking(true);
  ASSERT_TRUE(unit::run_until(io, [&] {
    char buffer[256];
    client_side.client.read_some(boost::asio::buffer(buffer), ending);
    return ending && ending != boost::asio::error::would_block;
  })) << "the client never learnt that its backend went away";
  EXPECT_EQ(ending, boost::asio::error::connection_reset)
      << "the backend's reset reached the client as: " << ending.message();
  ASSERT_TRUE(unit::run_until(io, [&] { return finished; }));
}

}  // namespace
}  // namespace poolgate::relay

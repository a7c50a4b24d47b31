// Covers pool::dial, begin_dial and finish_dial against loopback: a dial connects with the backend options set
// and the socket usable through Asio; a refused dial says so and leaves the socket closed. (The dial that has to
// wait, and its timeout, need a listener that drops SYNs: tests/faults/dial_wait_test.cpp.)
#include "poolgate/pool/dialer.hpp"

#include "loopback.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <string>

namespace poolgate::pool {
namespace {

using namespace std::chrono_literals;
using unit::tcp;

int int_option(const tcp::socket& socket, int level, int name) {
  int value = -1;
  socklen_t size = sizeof value;
  if (::getsockopt(const_cast<tcp::socket&>(socket).native_handle(), level, name, &value, &size) != 0) return -1;
  return value;
}

class DialTest : public ::testing::Test {
 protected:
  // Runs dial() to completion on io_.
  boost::system::error_code dial_now(tcp::socket& socket, const tcp::endpoint& target) {
    std::optional<boost::system::error_code> result;
    boost::asio::co_spawn(
        io_, [&]() -> boost::asio::awaitable<void> { result = co_await dial(socket, target, 2s); },
        boost::asio::detached);
    EXPECT_TRUE(unit::run_until(io_, [&] { return result.has_value(); })) << "the dial never finished";
    return result.value_or(boost::asio::error::timed_out);
  }

  unit::asio::io_context io_;
};

TEST_F(DialTest, ALoopbackDialConnectsWithTheBackendOptionsAndCarriesBytes) {
  unit::LoopbackServer server(io_);
  tcp::socket socket(io_);
  ASSERT_FALSE(dial_now(socket, server.endpoint()));
  ASSERT_TRUE(socket.is_open());
  EXPECT_EQ(socket.remote_endpoint(), server.endpoint());

  const int fd = socket.native_handle();
  EXPECT_EQ(int_option(socket, IPPROTO_TCP, TCP_NODELAY), 1);
  EXPECT_EQ(int_option(socket, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(int_option(socket, IPPROTO_TCP, TCP_KEEPIDLE), 30);
  EXPECT_EQ(int_option(socket, IPPROTO_TCP, TCP_INQ), 1);
  EXPECT_EQ(int_option(socket, IPPROTO_TCP, TCP_USER_TIMEOUT), 60'000);
  EXPECT_NE(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_TRUE(socket.native_non_blocking());  // what the descriptor is, and what Asio believes

  tcp::socket* server_side = nullptr;
  ASSERT_TRUE(unit::run_until(io_, [&] { return (server_side = server.peer_of(socket)) != nullptr; }));
  // Asio's blocking calls still block on it (they wait for readiness): the greeting is sent after a pause.
  unit::asio::write(socket, unit::asio::buffer(std::string("ping")));
  EXPECT_EQ(unit::read_exactly(*server_side, 4), "ping");
  unit::asio::write(*server_side, unit::asio::buffer(std::string("pong")));
  EXPECT_EQ(unit::read_exactly(socket, 4), "pong");
}

TEST_F(DialTest, BeginDialToALoopbackListenerEndsConnectedOrStillConnectingNeverFailed) {
  unit::LoopbackServer server(io_);
  tcp::socket socket(io_);
  const DialStart start = begin_dial(socket, server.endpoint());
  ASSERT_FALSE(start.error) << start.error.message();
  ASSERT_TRUE(socket.is_open());
  if (!start.connected) {
    // The handshake had not finished when connect() returned (a loaded machine): finish_dial waits for it.
    std::optional<boost::system::error_code> result;
    boost::asio::co_spawn(
        io_, [&]() -> boost::asio::awaitable<void> { result = co_await finish_dial(socket, 2s); },
        boost::asio::detached);
    ASSERT_TRUE(unit::run_until(io_, [&] { return result.has_value(); }));
    ASSERT_FALSE(*result) << result->message();
  }
  EXPECT_EQ(socket.remote_endpoint(), server.endpoint());
}

TEST_F(DialTest, ARefusedDialSaysConnectionRefusedAndLeavesTheSocketClosed) {
  tcp::socket socket(io_);
  EXPECT_EQ(dial_now(socket, unit::refusing_endpoint(io_)), boost::asio::error::connection_refused);
  EXPECT_FALSE(socket.is_open());
}

TEST_F(DialTest, ADialReplacesWhatTheSocketHeldBefore) {
  unit::LoopbackServer server(io_);
  tcp::socket socket(io_);
  ASSERT_FALSE(dial_now(socket, server.endpoint()));
  const auto first_port = socket.local_endpoint().port();
  ASSERT_FALSE(dial_now(socket, server.endpoint()));
  EXPECT_NE(socket.local_endpoint().port(), first_port);
  EXPECT_TRUE(unit::run_until(io_, [&] { return server.accepted_count() == 2; }));
}

}  // namespace
}  // namespace poolgate::pool

// Covers pool::is_alive: a connected socket we are not reading from is alive until its peer closes or resets it.
#include "poolgate/pool/liveness.hpp"

#include "loopback.hpp"

#include <gtest/gtest.h>

#include <string>

namespace poolgate::pool {
namespace {

using unit::tcp;

// One loopback connection; the tests judge the client side while acting on the server side.
class IsAliveTest : public ::testing::Test {
 protected:
  void send_from_server(const std::string& data) {
    unit::asio::write(connection_.server, unit::asio::buffer(data));
    ASSERT_TRUE(unit::eventually([&] { return connection_.client.available() == data.size(); }))
        << "the data never arrived";
  }

  bool eventually_dead() {
    return unit::eventually([&] { return !is_alive(connection_.client); });
  }

  unit::asio::io_context io_;
  unit::SocketPair connection_ = unit::connected_pair(io_);
};

TEST_F(IsAliveTest, ConnectedSocketIsAlive) {
  EXPECT_TRUE(is_alive(connection_.client));
  EXPECT_TRUE(is_alive(connection_.server));
}

TEST_F(IsAliveTest, PeerClosingWithFinMakesItDead) {
  connection_.server.close();
  EXPECT_TRUE(eventually_dead());
}

TEST_F(IsAliveTest, PeerHalfClosingMakesItDead) {
  // A backend that stopped sending will never answer a new client's request.
  connection_.server.shutdown(tcp::socket::shutdown_send);
  EXPECT_TRUE(eventually_dead());
}

TEST_F(IsAliveTest, PeerResetMakesItDead) {
  unit::close_with_reset(connection_.server);
  EXPECT_TRUE(eventually_dead());
}

TEST_F(IsAliveTest, QueuedDataAloneKeepsItAlive) {
  ASSERT_NO_FATAL_FAILURE(send_from_server("220 banner\r\n"));
  EXPECT_TRUE(is_alive(connection_.client));
  EXPECT_EQ(connection_.client.available(), 12u) << "checking must not consume the data";
  EXPECT_TRUE(is_alive(connection_.client));
}

TEST_F(IsAliveTest, QueuedDataFollowedByFinIsDead) {
  ASSERT_NO_FATAL_FAILURE(send_from_server("bye\n"));
  connection_.server.close();
  EXPECT_TRUE(eventually_dead());
}

TEST_F(IsAliveTest, DeadStaysDead) {
  connection_.server.close();
  ASSERT_TRUE(eventually_dead());
  EXPECT_FALSE(is_alive(connection_.client));
}

TEST_F(IsAliveTest, ClosedSocketIsNotAlive) {
  connection_.client.close();
  EXPECT_FALSE(is_alive(connection_.client));
}

TEST_F(IsAliveTest, NeverOpenedSocketIsNotAlive) {
  tcp::socket never_opened(io_);
  EXPECT_FALSE(is_alive(never_opened));
}

TEST_F(IsAliveTest, OpenButUnconnectedSocketIsNotAlive) {
  tcp::socket unconnected(io_);
  unconnected.open(tcp::v4());
  EXPECT_FALSE(is_alive(unconnected));
}

}  // namespace
}  // namespace poolgate::pool

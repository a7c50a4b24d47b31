// The dial that cannot finish inside connect(): against a listener that drops SYNs, begin_dial() reports the
// connect still in progress, and finish_dial() either times out (the socket closed) or, once the listener has
// room and the retransmitted SYN is answered, completes with a connected socket. And a pool shut down while
// such dials wait drops what they bring and gives their budget back.
#include "faults/support/load_servers.hpp"
#include "poolgate/balance/backend.hpp"
#include "poolgate/pool/dialer.hpp"
#include "poolgate/pool/endpoint_pool.hpp"
#include "support/wait.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>

namespace poolgate::test {
namespace {

using namespace std::chrono_literals;
using boost::asio::ip::tcp;

class DialWaitTest : public ::testing::Test {
 protected:
  tcp::endpoint target() const {
    return tcp::endpoint(boost::asio::ip::address_v4::loopback(), silent_.port());
  }

  // Runs finish_dial() on io_ until it completes; nullopt if it does not within `patience`.
  std::optional<boost::system::error_code> finish(tcp::socket& socket, config::Duration timeout,
                                                  std::chrono::milliseconds patience) {
    std::optional<boost::system::error_code> result;
    boost::asio::co_spawn(
        io_, [&]() -> boost::asio::awaitable<void> { result = co_await pool::finish_dial(socket, timeout); },
        boost::asio::detached);
    run_until(io_, [&] { return result.has_value(); }, patience);
    return result;
  }

  SilentListener silent_;  // its constructor has checked that a connect to it really hangs
  boost::asio::io_context io_;
};

TEST_F(DialWaitTest, AnUnansweredConnectIsStillInProgressAfterBeginDialAndTimesOutInFinishDial) {
  tcp::socket socket(io_);
  const pool::DialStart start = pool::begin_dial(socket, target());
  ASSERT_FALSE(start.error) << start.error.message();
  EXPECT_FALSE(start.connected);
  ASSERT_TRUE(socket.is_open());

  const auto began = std::chrono::steady_clock::now();
  const auto result = finish(socket, 300ms, 5s);
  ASSERT_TRUE(result.has_value()) << "finish_dial ignored its timeout";
  EXPECT_EQ(*result, boost::asio::error::timed_out);
  EXPECT_GE(std::chrono::steady_clock::now() - began, 250ms);
  EXPECT_FALSE(socket.is_open());
}

TEST_F(DialWaitTest, AConnectAnsweredLaterCompletesInFinishDial) {
  tcp::socket socket(io_);
  const pool::DialStart start = pool::begin_dial(socket, target());
  ASSERT_FALSE(start.error) << start.error.message();
  ASSERT_FALSE(start.connected);
  silent_.make_room_for_one();  // the SYN's retransmission, about a second later, is answered

  const auto result = finish(socket, 10s, 15s);
  ASSERT_TRUE(result.has_value()) << "finish_dial never completed";
  ASSERT_FALSE(*result) << result->message();
  ASSERT_TRUE(socket.is_open());
  EXPECT_EQ(socket.remote_endpoint(), target());
}

TEST_F(DialWaitTest, APoolShutDownWhileItsDialsWaitDropsWhatTheyBringAndTheirBudget) {
  const auto backend = std::make_shared<balance::Backend>(silent_.address(), silent_.address(), target());
  pool::PoolSettings settings;
  settings.connect_timeout = 2s;
  std::vector<boost::system::error_code> failures;
  auto pool = std::make_shared<pool::EndpointPool>(
      io_.get_executor(), backend, settings,
      [&](const balance::BackendPtr&, const boost::system::error_code& ec) { failures.push_back(ec); });
  pool->refill();
  ASSERT_EQ(backend->pooled.load(), 2);  // two dials, both waiting for an answer, hold their slots
  ASSERT_EQ(pool->idle_count(), 0u);
  pool->shutdown(true);
  // One dial is answered after the shutdown (the SYN's retransmission finds room), the other times out.
  silent_.make_room_for_one();
  ASSERT_TRUE(run_until(io_, [&] { return backend->pooled.load() == 0; }, 10s)) << "the dials kept their budget";
  EXPECT_EQ(pool->idle_count(), 0u);
  EXPECT_EQ(pool->counters().refill_dials, 2u);
  EXPECT_TRUE(failures.empty()) << "a dial ended by the shutdown was reported as the backend's failure";
}

}  // namespace
}  // namespace poolgate::test

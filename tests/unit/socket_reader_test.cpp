// relay::SocketReader on loopback sockets with TCP_INQ (as poolgate's own): bytes, a FIN and a reset are all seen,
// whether they arrive while a read waits, before it starts, or together with the bytes that emptied the socket.
#include "poolgate/relay/socket_reader.hpp"

#include "loopback.hpp"
#include "poolgate/pool/dialer.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace poolgate::relay {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

struct ReadResult {
  boost::system::error_code ec;
  std::string bytes;
};

class SocketReaderTest : public ::testing::Test {
 protected:
  SocketReaderTest() : pair_(unit::connected_pair(io_)), drained_(io_.get_executor()), reader_(pair_.server, drained_) {
    pool::set_client_socket_options(pair_.server.native_handle());
  }

  // Starts one read; its result appears in result_ when it completes.
  void start_read() {
    result_.reset();
    asio::co_spawn(
        io_,
        [this]() -> asio::awaitable<void> {
          char buffer[256];
          auto [ec, n] = co_await reader_.read_some(asio::buffer(buffer));
          result_ = ReadResult{ec, std::string(buffer, n)};
        },
        asio::detached);
  }
  // Runs the loop until the read started last completes (or the unit tests' patience runs out).
  std::optional<ReadResult> finish_read() {
    unit::run_until(io_, [&] { return result_.has_value(); });
    return result_;
  }
  std::optional<ReadResult> read() {
    start_read();
    return finish_read();
  }
  void peer_sends(const std::string& bytes) { asio::write(pair_.client, asio::buffer(bytes)); }
  // Turns the event loop with no read pending: epoll reports whatever arrived, and nothing is there to take it.
  void loop_idles() {
    auto busy = asio::make_work_guard(io_);
    unit::run_for(io_, 20ms);
  }
  // Reads until the socket reports it was left empty after a wake-up, the state in which the next read waits
  // without trying the socket first.
  void read_until_proven_empty() {
    peer_sends("first");
    ASSERT_EQ(read()->bytes, "first");
    start_read();  // finds nothing, and waits for the next edge
    unit::run_for(io_, 20ms);
    ASSERT_FALSE(result_.has_value());
    peer_sends("second");
    ASSERT_EQ(finish_read()->bytes, "second");
    ASSERT_TRUE(reader_.proven_empty());
  }

  asio::io_context io_;
  unit::SocketPair pair_;
  DrainedWait drained_;
  SocketReader reader_;
  std::optional<ReadResult> result_;
};

TEST_F(SocketReaderTest, AReadOfAnEmptiedSocketWaitsForBytesThatComeLater) {
  read_until_proven_empty();
  start_read();
  unit::run_for(io_, 20ms);
  EXPECT_FALSE(result_.has_value()) << "the read completed with nothing sent";
  peer_sends("third");
  const auto third = finish_read();
  ASSERT_TRUE(third.has_value()) << "bytes sent to a waiting read never arrived";
  EXPECT_FALSE(third->ec) << third->ec.message();
  EXPECT_EQ(third->bytes, "third");
}

TEST_F(SocketReaderTest, BytesThatArriveBetweenReadsAreNotMissedByTheWait) {
  read_until_proven_empty();
  // The edge comes while nothing waits; the loop turns and takes it in before the next read starts.
  peer_sends("between");
  loop_idles();
  const auto got = read();
  ASSERT_TRUE(got.has_value()) << "bytes that arrived between two reads were lost to the wait";
  EXPECT_EQ(got->bytes, "between");
}

TEST_F(SocketReaderTest, AFinAfterAnEmptyingReadIsEof) {
  read_until_proven_empty();
  pair_.client.shutdown(unit::tcp::socket::shutdown_send);
  const auto got = read();
  ASSERT_TRUE(got.has_value()) << "the FIN never reached the waiting read";
  EXPECT_EQ(got->ec, asio::error::eof) << got->ec.message();
}

TEST_F(SocketReaderTest, BytesAndAResetArrivingTogetherAreReadThenTheResetIsReported) {
  read_until_proven_empty();
  // TCP_INQ does not count a pending reset: the read that takes the bytes says nothing is left.
  peer_sends("last");
  unit::close_with_reset(pair_.client);
  const auto last = read();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->bytes, "last");
  EXPECT_FALSE(reader_.proven_empty()) << "a wake-up that carried a reset must not let TCP_INQ prove emptiness";
  const auto ending = read();
  ASSERT_TRUE(ending.has_value()) << "the reset after the last bytes was never reported";
  EXPECT_EQ(ending->ec, asio::error::connection_reset) << ending->ec.message();
}

TEST_F(SocketReaderTest, ARestartedReaderTrustedEmptyStillReadsWhatArrivedBeforeIt) {
  // Another session left this connection empty; bytes come in while it sits unread (in a pool, say).
  read_until_proven_empty();
  peer_sends("queued");
  loop_idles();
  reader_.restart(/*proven_empty=*/true);
  const auto got = read();
  ASSERT_TRUE(got.has_value()) << "bytes queued before the restart were never read";
  EXPECT_EQ(got->bytes, "queued");
}

TEST_F(SocketReaderTest, CancellingTheSocketEndsAWaitingRead) {
  read_until_proven_empty();
  start_read();
  unit::run_for(io_, 20ms);
  ASSERT_FALSE(result_.has_value());
  pair_.server.cancel();
  const auto got = finish_read();
  ASSERT_TRUE(got.has_value()) << "a cancelled wait never completed";
  EXPECT_EQ(got->ec, asio::error::operation_aborted) << got->ec.message();
}

}  // namespace
}  // namespace poolgate::relay

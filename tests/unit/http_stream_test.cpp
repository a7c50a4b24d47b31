// stream_message against real loopback sockets: messages gathered into one send arrive whole and in order, also
// when destinations stop reading and sends come back partial, with two streams sharing one thread (and so one
// staging area) at the same time.
#include "poolgate/http/message_stream.hpp"

#include "loopback.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <array>
#include <thread>

namespace poolgate::http {
namespace {

using namespace poolgate::unit;
namespace bhttp = boost::beast::http;

constexpr int kMessages = 100;
constexpr std::size_t kBodySize = 10'000;  // header and body fit the staging area: gathered into one send

// A body no other stream or message shares: a mix-up between the two streams shows as a wrong body.
std::string body_of(int stream, int index) {
  return std::string(kBodySize, static_cast<char>((stream == 0 ? 'a' : 'A') + index % 26));
}

std::string raw_response(int stream, int index) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kBodySize) + "\r\nX-Seq: " + std::to_string(index) +
         "\r\n\r\n" + body_of(stream, index);
}

// One stream: a test thread feeds raw responses into `source`, stream_message carries them to `destination`,
// another test thread reads them there once told to.
class Stream {
 public:
  Stream(asio::io_context& io, int id) : id_(id), source_(connected_pair(io)), destination_(connected_pair(io)) {
    // A small send buffer, so that sends come back partial once the receiver's window is full. (Shrinking the
    // receive buffer of an established connection would leave its window shut, which is no test of poolgate.)
    destination_.client.set_option(asio::socket_base::send_buffer_size(4096));
    feeder_ = std::thread([this] {
      boost::system::error_code ec;
      for (int i = 0; i < kMessages && !ec; ++i) asio::write(source_.client, asio::buffer(raw_response(id_, i)), ec);
    });
    asio::co_spawn(io, carry(), asio::detached);
  }
  ~Stream() {
    // Unblocks the test threads whatever state a failed test left them in.
    boost::system::error_code ignored;
    source_.client.shutdown(tcp::socket::shutdown_both, ignored);
    destination_.server.shutdown(tcp::socket::shutdown_both, ignored);
    if (feeder_.joinable()) feeder_.join();
    if (reader_.joinable()) reader_.join();
  }

  void start_reading() {
    reader_ = std::thread([this] {
      boost::beast::flat_buffer buffer;
      for (int i = 0; i < kMessages; ++i) {
        bhttp::response<bhttp::string_body> response;
        boost::system::error_code ec;
        bhttp::read(destination_.server, buffer, response, ec);
        if (ec) return;
        received_.push_back(std::move(response));
      }
    });
  }
  bool finished() const { return streamed_ == kMessages || failed_; }
  int streamed() const { return streamed_; }

  void check_received() {
    reader_.join();
    ASSERT_FALSE(failed_) << "stream " << id_;
    ASSERT_EQ(received_.size(), static_cast<std::size_t>(kMessages)) << "stream " << id_;
    for (int i = 0; i < kMessages; ++i) {
      EXPECT_EQ(received_[i]["X-Seq"], std::to_string(i)) << "stream " << id_;
      EXPECT_EQ(received_[i].body(), body_of(id_, i)) << "stream " << id_ << ", message " << i;
    }
  }

 private:
  asio::awaitable<void> carry() {
    boost::beast::flat_buffer buffer;
    std::uint64_t written = 0;
    // As on poolgate's own sockets: reads report what they left queued, so emptied sockets are waited for.
    const int on = 1;
    ::setsockopt(source_.server.native_handle(), IPPROTO_TCP, TCP_INQ, &on, sizeof on);
    relay::DrainedWait drained(source_.server.get_executor());
    relay::SocketReader source(source_.server, drained);
    for (int i = 0; i < kMessages; ++i) {
      StreamingParser<false> parser;
      if (co_await read_header(source, buffer, parser) ||
          co_await stream_message(source, buffer, parser, destination_.client, written) != Flow::done) {
        failed_ = true;
        co_return;
      }
      ++streamed_;
    }
  }

  int id_;
  SocketPair source_;
  SocketPair destination_;
  std::thread feeder_;
  std::thread reader_;
  int streamed_ = 0;  // written and read on the io_context's thread (the test's) only
  bool failed_ = false;
  std::vector<bhttp::response<bhttp::string_body>> received_;
};

TEST(StreamMessage, GatheredMessagesOfTwoStreamsArriveWholeAndInOrderThroughDestinationsThatStopReading) {
  asio::io_context io;
  std::array<std::unique_ptr<Stream>, 2> streams{std::make_unique<Stream>(io, 0), std::make_unique<Stream>(io, 1)};
  const auto both_finished = [&] { return streams[0]->finished() && streams[1]->finished(); };
  // Nobody reads the destinations yet: ~1 MB each cannot fit their buffers, so both streams stall part-way, each
  // with a send cut short and its rest waiting while the other stream uses the thread's staging area.
  EXPECT_FALSE(run_until(io, both_finished, 500ms));
  EXPECT_LT(streams[0]->streamed(), kMessages);
  EXPECT_LT(streams[1]->streamed(), kMessages);
  for (auto& stream : streams) stream->start_reading();
  ASSERT_TRUE(run_until(io, both_finished));
  for (auto& stream : streams) stream->check_received();
}

}  // namespace
}  // namespace poolgate::http

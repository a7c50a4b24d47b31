// stream_message against real loopback sockets: messages gathered into one send arrive whole and in order, also
// when the destination stops reading and the sends come back partial.
#include "poolgate/http/message_stream.hpp"

#include "loopback.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace poolgate::http {
namespace {

using namespace poolgate::unit;
namespace bhttp = boost::beast::http;

constexpr int kMessages = 100;
constexpr std::size_t kBodySize = 10'000;  // header and body fit the staging area: gathered into one send

std::string body_of(int index) { return std::string(kBodySize, static_cast<char>('a' + index % 26)); }

std::string raw_response(int index) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kBodySize) + "\r\nX-Seq: " + std::to_string(index) +
         "\r\n\r\n" + body_of(index);
}

TEST(StreamMessage, GatheredMessagesArriveWholeAndInOrderThroughADestinationThatStopsReading) {
  asio::io_context io;
  SocketPair source = connected_pair(io);       // a test thread writes into source.client; poolgate reads .server
  SocketPair destination = connected_pair(io);  // poolgate writes into destination.client; the test reads .server
  // A small send buffer, so that sends come back partial once the receiver's window is full. (Shrinking the
  // receive buffer of an established connection would leave its window shut, with nothing to do with poolgate.)
  destination.client.set_option(asio::socket_base::send_buffer_size(4096));

  std::thread feeder([&] {
    for (int i = 0; i < kMessages; ++i) asio::write(source.client, asio::buffer(raw_response(i)));
  });
  std::atomic<int> streamed{0};
  bool failed = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        boost::beast::flat_buffer buffer;
        BodyChunk chunk;
        std::uint64_t written = 0;
        for (int i = 0; i < kMessages; ++i) {
          StreamingParser<false> parser;
          auto [ec, n] = co_await bhttp::async_read_header(source.server, buffer, parser,
                                                           asio::as_tuple(asio::use_awaitable));
          if (ec || co_await stream_message(source.server, buffer, parser, destination.client, chunk, written) !=
                        Flow::done) {
            failed = true;
            co_return;
          }
          ++streamed;
        }
      },
      asio::detached);

  // Nobody reads the destination yet: ~1 MB cannot fit its buffers, so the stream must stall part-way, with a
  // send cut short.
  EXPECT_FALSE(run_until(io, [&] { return streamed == kMessages || failed; }, 500ms));
  EXPECT_LT(streamed.load(), kMessages);

  std::vector<bhttp::response<bhttp::string_body>> received;
  std::thread reader([&] {
    boost::beast::flat_buffer buffer;
    for (int i = 0; i < kMessages; ++i) {
      bhttp::response<bhttp::string_body> response;
      boost::system::error_code ec;
      bhttp::read(destination.server, buffer, response, ec);
      if (ec) return;
      received.push_back(std::move(response));
    }
  });
  EXPECT_TRUE(run_until(io, [&] { return streamed == kMessages || failed; }));
  feeder.join();
  reader.join();
  ASSERT_FALSE(failed);
  ASSERT_EQ(received.size(), static_cast<std::size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(received[i]["X-Seq"], std::to_string(i));
    EXPECT_EQ(received[i].body(), body_of(i)) << "message " << i;
  }
}

}  // namespace
}  // namespace poolgate::http

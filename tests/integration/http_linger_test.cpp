// HTTP mode's lingering close: when poolgate ends a connection after a response (a refusal, Connection: close)
// while the client still has bytes on the way, the client gets the whole response and then an orderly EOF, not
// a reset; a client that keeps sending is cut off within the linger's bounds, and at once by a drain.
#include "http_fixture.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include <csignal>

namespace poolgate::test {
namespace {

namespace bhttp = boost::beast::http;
using PeerEnd = HttpConnection::PeerEnd;

// poolgate's bounds (src/poolgate/http/linger.hpp): 2 s or 256 KiB discarded, whichever comes first.
constexpr auto kLingerTime = 2s;

const std::string kMalformed = "GET /hello HTTP/1.1\r\nHost: t\r\nBad Header: y\r\n\r\n";

const char* describe(PeerEnd end) {
  switch (end) {
    case PeerEnd::eof:
      return "EOF";
    case PeerEnd::reset:
      return "reset";
    case PeerEnd::open:
      return "still open";
  }
  return "?";
}

class HttpLingerTest : public HttpModeTest {
 protected:
  void SetUp() override { start_http_proxy(backend_.address(), {"--drain-timeout", "20s"}); }

  // Sends `chunk` again and again, waiting `pause` between sends, until the server stops taking bytes: a send
  // fails or a reset comes (true); or until `give_up` passes (false). poolgate's FIN does not count: after it,
  // a lingering poolgate still reads.
  static bool send_until_cut_off(HttpConnection& client, const std::string& chunk, std::chrono::milliseconds pause,
                                 std::chrono::milliseconds give_up) {
    const auto started = std::chrono::steady_clock::now();
    while (elapsed_since(started) < give_up) {
      if (!client.send_raw(chunk) || client.reset_within(pause)) return true;
    }
    return false;
  }

  // Sends a malformed request and reads poolgate's 400: the lingering close has begun.
  static void get_refused(HttpConnection& client) {
    ASSERT_TRUE(client.send_raw(kMalformed));
    const auto response = client.read_response();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->result(), bhttp::status::bad_request);
  }

  HttpBackend backend_;
};

TEST_F(HttpLingerTest, A400WithMoreBytesBehindTheRefusedHeaderArrivesWholeAndTheCloseIsOrderly) {
  HttpConnection client = connect_http();
  // One write: poolgate refuses after its first read, with most of this still unread in its socket.
  EXPECT_TRUE(client.send_raw(kMalformed + std::string(100 * 1024, 'x'))) << "poolgate reset while we sent";
  const auto response = client.read_response();
  ASSERT_TRUE(response.has_value()) << "the 400 was lost";
  EXPECT_EQ(response->result(), bhttp::status::bad_request);
  EXPECT_EQ(response->body(), "Bad Request\n");
  EXPECT_FALSE(response->keep_alive());
  // The client does not close: poolgate reads what is left, then closes after the time bound, with a FIN.
  const PeerEnd end = client.wait_for_end(kLingerTime + 3s);
  EXPECT_EQ(end, PeerEnd::eof) << describe(end);
  EXPECT_EQ(backend_.requests_served(), 0u);
}

TEST_F(HttpLingerTest, ARefusedHeaderThatWokeAWaitingReadIsStillReadToItsEndBeforeTheClose) {
  HttpConnection client = connect_http();
  // A first exchange, after which poolgate has read the connection empty and waits for its next edge.
  ASSERT_TRUE(client.send_raw("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto first = client.read_response();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->result(), bhttp::status::ok);
  // One edge brings more than poolgate reads at once (16 KiB), after its wait took the reactor's "may be
  // readable" hint: the lingering close must read the rest without counting on a later edge (on Linux the ACK of
  // its FIN happens to bring one), or it closes with bytes unread, which sends a reset.
  EXPECT_TRUE(client.send_raw(kMalformed + std::string(30 * 1024, 'x'))) << "poolgate reset while we sent";
  const auto refusal = client.read_response();
  ASSERT_TRUE(refusal.has_value()) << "the 400 was lost";
  EXPECT_EQ(refusal->result(), bhttp::status::bad_request);
  const PeerEnd end = client.wait_for_end(kLingerTime + 3s);
  EXPECT_EQ(end, PeerEnd::eof) << describe(end);
  // The FIN comes first either way; unread bytes would turn the close at the linger's end into a reset.
  EXPECT_FALSE(client.reset_within(kLingerTime + 1s)) << "poolgate closed with the refused bytes unread";
  EXPECT_EQ(backend_.requests_served(), 1u);
}

TEST_F(HttpLingerTest, ARequestPipelinedBehindAConnectionCloseAnswerDoesNotResetTheAnswer) {
  HttpConnection client = connect_http();
  // The second request is big enough that part of it is still in poolgate's socket when the first is answered.
  const std::string body(100 * 1024, 'b');
  // The client asks to close (the backend's own Connection: close is hop-by-hop and would not end this one).
  const std::string pipelined = "GET /close HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                                "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
  EXPECT_TRUE(client.send_raw(pipelined)) << "poolgate reset while we sent";
  const auto response = client.read_response();
  ASSERT_TRUE(response.has_value()) << "the answer to /close was lost";
  EXPECT_EQ(response->result(), bhttp::status::ok);
  EXPECT_EQ(response->body().rfind("closing conn=", 0), 0u) << response->body();
  EXPECT_TRUE(boost::beast::iequals((*response)[bhttp::field::connection], "close"))
      << "Connection: " << (*response)[bhttp::field::connection];
  // A client that closes in turn ends the linger at once, well within the time bound.
  const auto read_at = std::chrono::steady_clock::now();
  client.shutdown_send();
  const PeerEnd end = client.wait_for_end(kLingerTime + 3s);
  EXPECT_EQ(end, PeerEnd::eof) << describe(end);
  EXPECT_LT(elapsed_since(read_at), kLingerTime - 500ms) << "poolgate lingered on after the client's FIN";
  EXPECT_EQ(backend_.requests_served(), 1u) << "the request behind Connection: close reached the backend";
}

TEST_F(HttpLingerTest, AClientThatAskedToCloseAndSentNothingMoreIsClosedAtOnceWithoutLingering) {
  HttpConnection client = connect_http();
  ASSERT_TRUE(client.send_raw("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  const auto response = client.read_response();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result(), bhttp::status::ok);
  const PeerEnd end = client.wait_for_end(kLingerTime + 3s);
  ASSERT_EQ(end, PeerEnd::eof) << describe(end);
  // The client broke its word (RFC 9112 9.6): poolgate's socket is already closed, not reading and discarding
  // as a lingering close would, so the kernel answers these bytes with a reset.
  ASSERT_TRUE(client.send_raw("GET /late HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_TRUE(client.reset_within(kLingerTime - 500ms)) << "poolgate still held the connection open after the close";
  EXPECT_EQ(backend_.requests_served(), 1u);
}

TEST_F(HttpLingerTest, AClientThatKeepsSendingSlowlyAfterARefusalIsCutOffAtTheTimeBound) {
  HttpConnection client = connect_http();
  ASSERT_NO_FATAL_FAILURE(get_refused(client));
  // 1 KiB every 20 ms: about 100 KiB in 2 s, under the byte bound, so only the time bound can end this.
  const auto refused_at = std::chrono::steady_clock::now();
  EXPECT_TRUE(send_until_cut_off(client, std::string(1024, 'x'), 20ms, 15s))
      << "a client sending forever after a refusal was never cut off";
  EXPECT_LT(elapsed_since(refused_at), kLingerTime + 3s) << "the linger outlived its bound";
}

TEST_F(HttpLingerTest, AClientThatFloodsAfterARefusalIsCutOffAtTheByteBound) {
  HttpConnection client = connect_http();
  ASSERT_NO_FATAL_FAILURE(get_refused(client));
  // 64 KiB at a time without pause: 256 KiB is reached in milliseconds, long before the time bound.
  const auto refused_at = std::chrono::steady_clock::now();
  EXPECT_TRUE(send_until_cut_off(client, std::string(64 * 1024, 'x'), 1ms, 15s))
      << "a client flooding after a refusal was never cut off";
  EXPECT_LT(elapsed_since(refused_at), kLingerTime - 500ms) << "the byte bound did not end the linger";
}

TEST_F(HttpLingerTest, ADrainEndsALingeringCloseAtOnce) {
  HttpConnection client = connect_http();
  ASSERT_NO_FATAL_FAILURE(get_refused(client));
  const auto refused_at = std::chrono::steady_clock::now();
  proxy().send_signal(SIGTERM);
  EXPECT_TRUE(send_until_cut_off(client, std::string(1024, 'x'), 20ms, 15s))
      << "a lingering client was never cut off";
  EXPECT_LT(elapsed_since(refused_at), kLingerTime - 500ms) << "the drain waited for the linger's time bound";
  EXPECT_EQ(proxy().wait_exit(5s), 0) << "poolgate waited for the 20 s drain timeout";
}

}  // namespace
}  // namespace poolgate::test

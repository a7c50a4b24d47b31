// HTTP mode refuses what it cannot forward safely (400, 431) and closes clients that are idle or slow too long.
#include "http_fixture.hpp"

namespace poolgate::test {
namespace {

class HttpRefusalTest : public HttpModeTest {
 protected:
  void SetUp() override { start_http_proxy(backend_.address()); }
  HttpBackend backend_;
};

TEST_F(HttpRefusalTest, MalformedOrAmbiguousRequestsGet400AndNeverReachTheBackend) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a malformed request line", "GARBAGE\r\n\r\n"},
      {"a malformed header", "GET /hello HTTP/1.1\r\nHost: t\r\nBad Header: y\r\n\r\n"},
      {"Content-Length and Transfer-Encoding",
       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
      {"differing Content-Length values",
       "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
      {"obsolete line folding", "GET /hello HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n b\r\n\r\n"},
      {"a Transfer-Encoding that is not chunked", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"},
      {"Transfer-Encoding in two fields (parsers read them differently)",
       "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5\r\nhello\r\n0\r\n\r\n"},
  };
  for (const auto& [what, raw] : cases) {
    EXPECT_EQ(status_of_raw_request(raw), 400u) << what;
  }
  EXPECT_EQ(backend_.requests_served(), 0u);
  EXPECT_EQ(counter("poolgate_http_requests_refused_total", {{"reason", "malformed"}}), cases.size());
}

TEST_F(HttpRefusalTest, ABadChunkSizeGets400) {
  EXPECT_EQ(status_of_raw_request("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "zz\r\nhello\r\n0\r\n\r\n"),
            400u);
  EXPECT_EQ(backend_.requests_served(), 0u) << "a request with a broken body was answered by the backend";
}

TEST_F(HttpRefusalTest, AChunkSizeLineThatNeverEndsGets400InsteadOfFillingMemory) {
  EXPECT_EQ(status_of_raw_request("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=" +
                                  std::string(100 * 1024, 'a')),
            400u);
}

TEST_F(HttpRefusalTest, AHeaderSectionOver64KiBGets431) {
  const std::string big = "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n";
  EXPECT_EQ(status_of_raw_request(big), 431u);
  const std::string fits = "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(60 * 1024, 'a') + "\r\n\r\n";
  EXPECT_EQ(status_of_raw_request(fits), 200u);
  EXPECT_EQ(counter("poolgate_http_requests_refused_total", {{"reason", "header_too_large"}}), 1);
}

class HttpTimeoutTest : public HttpModeTest {
 protected:
  HttpBackend backend_;
};

TEST_F(HttpTimeoutTest, AClientSilentBetweenRequestsIsClosedAfterTheIdleTimeout) {
  start_http_proxy(backend_.address(), {"--http-idle-timeout", "400ms"});
  HttpConnection client = connect_http();
  ASSERT_TRUE(client.exchange(make_get("/hello")).has_value());
  const auto idle_since = std::chrono::steady_clock::now();
  EXPECT_TRUE(client.closed_by_peer(5s)) << "an idle keep-alive client was never closed";
  EXPECT_GE(elapsed_since(idle_since), 350ms) << "closed before the idle timeout";

  HttpConnection silent = connect_http();
  EXPECT_TRUE(silent.closed_by_peer(5s)) << "a client that never sent a byte was never closed";
  EXPECT_GE(counter("poolgate_http_requests_refused_total", {{"reason", "timeout"}}), 2);
}

TEST_F(HttpTimeoutTest, ARequestHeaderTrickledTooSlowlyIsClosedAfterTheHeaderTimeout) {
  start_http_proxy(backend_.address(), {"--http-header-timeout", "400ms"});
  HttpConnection slow = connect_http();
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(slow.send_raw("GET /hello HTTP/1.1\r\nHost: t\r\n"));
  // Keeps sending a header line now and then, never finishing: only the header deadline can end this.
  bool closed = false;
  for (int i = 0; i < 40 && !closed; ++i) {
    closed = !slow.send_raw("X-Slow: " + std::to_string(i) + "\r\n") || slow.closed_by_peer(100ms);
  }
  EXPECT_TRUE(closed) << "a slowloris client was never closed";
  EXPECT_GE(elapsed_since(started), 350ms);
  EXPECT_LT(elapsed_since(started), 3s);
  EXPECT_EQ(backend_.requests_served(), 0u);
}

}  // namespace
}  // namespace poolgate::test

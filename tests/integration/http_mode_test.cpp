// HTTP mode: requests forwarded whole, in order, over backend connections reused only at clean message
// boundaries, against a scripted backend and a real nginx.
#include "http_fixture.hpp"
#include "support/nginx.hpp"

#include <boost/beast/http/field.hpp>

#include <mutex>
#include <set>
#include <thread>

namespace poolgate::test {
namespace {

namespace bhttp = boost::beast::http;

HttpRequestMessage make_post(std::string_view target, std::string body) {
  HttpRequestMessage request{bhttp::verb::post, target, 11};
  request.set(bhttp::field::host, "poolgate.test");
  request.body() = std::move(body);
  return request;
}

std::string pattern(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>('a' + i % 26);
  return bytes;
}

TEST_F(HttpModeTest, ThreeHundredOneRequestClientsAreServedOverAtMostPoolMaxNginxConnections) {
  NginxBackend nginx(temp_dir_ / "nginx");
  start_http_proxy(nginx.address(), {"--pool-max-per-endpoint", "4"});

  std::mutex mutex;
  std::set<std::string> nginx_connections;
  std::size_t answered = 0;
  auto one_request_clients = [&](int count) {
    for (int i = 0; i < count; ++i) {
      HttpConnection client = connect_http();
      const auto response = client.exchange(make_get("/"));
      std::lock_guard lock(mutex);
      if (!response || response->result() != bhttp::status::ok) continue;
      ++answered;
      nginx_connections.insert(response->body());
    }
  };
  std::thread second(one_request_clients, 100), third(one_request_clients, 100);
  one_request_clients(100);
  second.join();
  third.join();

  EXPECT_EQ(answered, 300u);
  EXPECT_LE(nginx_connections.size(), 4u) << "backend connections were not reused across clients";
  EXPECT_EQ(counter("poolgate_http_requests_total"), 300);
  EXPECT_GE(counter("poolgate_http_reused_connections_total"), 290);
}

TEST_F(HttpModeTest, AKeepAliveClientIsServedOverTheWarmNginxConnections) {
  NginxBackend nginx(temp_dir_ / "nginx");
  start_http_proxy(nginx.address(), {"--pool-max-per-endpoint", "2"});
  HttpConnection client = connect_http();
  std::set<std::string> nginx_connections;
  for (int i = 0; i < 50; ++i) {
    const auto response = client.exchange(make_get("/"));
    ASSERT_TRUE(response && response->result() == bhttp::status::ok) << "request " << i;
    nginx_connections.insert(response->body());
  }
  EXPECT_LE(nginx_connections.size(), 2u);
}

TEST_F(HttpModeTest, PostBodiesArriveWholeWithContentLengthAndWithChunkedCoding) {
  HttpBackend backend;
  start_http_proxy(backend.address());
  // Megabytes through Beast on both sides of the proxy take seconds under ThreadSanitizer on a busy machine.
  HttpConnection client = connect_http(30s);

  const std::string large = pattern(3 * 1024 * 1024 + 7);
  const auto by_length = client.exchange(make_post("/echo", large));
  ASSERT_TRUE(by_length.has_value());
  EXPECT_EQ(by_length->body().size(), large.size());
  EXPECT_TRUE(by_length->body() == large) << "the body arrived changed";

  HttpRequestMessage chunked = make_post("/echo?chunked", pattern(200000));
  chunked.chunked(true);
  const auto by_chunks = client.exchange(chunked);
  ASSERT_TRUE(by_chunks.has_value());
  EXPECT_TRUE(by_chunks->chunked()) << "a chunked response lost its coding";
  EXPECT_TRUE(by_chunks->body() == pattern(200000));

  ASSERT_TRUE(client.send_raw("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"));
  const auto hand_chunked = client.read_response();
  ASSERT_TRUE(hand_chunked.has_value());
  EXPECT_EQ(hand_chunked->body(), "hello world");
}

// A Connection token naming Content-Length must not strip the length: the body would reach the backend unframed,
// and a request inside it would be served as a second one (smuggled past poolgate).
TEST_F(HttpModeTest, ABodyKeepsItsLengthWhenConnectionNamesContentLength) {
  HttpBackend backend;
  start_http_proxy(backend.address());
  HttpConnection client = connect_http();
  const std::string body = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
  ASSERT_TRUE(client.send_raw("POST /echo HTTP/1.1\r\nHost: t\r\nConnection: content-length\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body));
  const auto named = client.read_response();
  ASSERT_TRUE(named.has_value());
  EXPECT_EQ(named->body(), body);

  const auto next = client.exchange(make_get("/headers"));
  ASSERT_TRUE(next.has_value()) << "the connection fell out of step";
  EXPECT_EQ(next->result(), bhttp::status::ok);
  EXPECT_EQ(backend.requests_served(), 2u) << "the backend saw a request nobody sent";
}

TEST_F(HttpModeTest, PipelinedRequestsAreAnsweredInOrder) {
  HttpBackend backend;
  start_http_proxy(backend.address());
  HttpConnection client = connect_http();
  std::string pipeline;
  for (const std::string body : {"first", "second", "third"}) {
    pipeline += "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  ASSERT_TRUE(client.send_raw(pipeline));
  for (const std::string expected : {"first", "second", "third"}) {
    const auto response = client.read_response();
    ASSERT_TRUE(response.has_value()) << "no answer for " << expected;
    EXPECT_EQ(response->body(), expected);
  }
}

TEST_F(HttpModeTest, HeadGetsTheHeaderWithoutABodyAndTheConnectionStaysInStep) {
  HttpBackend backend;
  start_http_proxy(backend.address());
  HttpConnection client = connect_http();
  HttpRequestMessage head = make_get("/hello");
  head.method(bhttp::verb::head);
  const auto headers_only = client.exchange(head);
  ASSERT_TRUE(headers_only.has_value());
  EXPECT_EQ(headers_only->result(), bhttp::status::ok);
  EXPECT_NE((*headers_only)[bhttp::field::content_length], "0");
  EXPECT_TRUE(headers_only->body().empty());

  const auto next = client.exchange(make_get("/hello"));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body().rfind("conn=", 0), 0u) << "the next answer is out of step: " << next->body();

  // A HEAD answer that announces chunked coding still carries no body, not even the last chunk.
  HttpRequestMessage chunked_head = make_get("/echo?chunked");
  chunked_head.method(bhttp::verb::head);
  const auto chunked_headers = client.exchange(chunked_head);
  ASSERT_TRUE(chunked_headers.has_value());
  EXPECT_EQ((*chunked_headers)[bhttp::field::transfer_encoding], "chunked");
  const auto after = client.exchange(make_get("/hello"));
  ASSERT_TRUE(after.has_value()) << "bytes after a HEAD answer put the connection out of step";
  EXPECT_EQ(after->body().rfind("conn=", 0), 0u) << after->body();
}

TEST_F(HttpModeTest, ABackendConnectionCloseIsHonouredAndThatConnectionNeverReused) {
  HttpBackend backend;
  start_http_proxy(backend.address(), {"--pool-max-per-endpoint", "1"});
  ASSERT_TRUE(wait_until([&] { return backend.connections_accepted() == 1; }, 5s)) << "the pool never warmed up";
  HttpConnection client = connect_http();

  const auto closing = client.exchange(make_get("/close"));
  ASSERT_TRUE(closing.has_value());
  ASSERT_EQ(closing->body().rfind("closing conn=", 0), 0u) << closing->body();
  // Which backend connection carried it depends on whether the warm one was adopted yet; the answer names it.
  const std::string closed_prefix = closing->body().substr(std::string_view("closing ").size()) + " ";
  for (int i = 0; i < 3; ++i) {
    const auto after = client.exchange(make_get("/hello"));
    ASSERT_TRUE(after.has_value()) << "the client connection did not survive the backend's close";
    ASSERT_EQ(after->body().rfind("conn=", 0), 0u) << after->body();
    EXPECT_EQ(after->body().rfind(closed_prefix, 0), std::string::npos) << "the closed connection was used again";
  }
  EXPECT_EQ(counter("poolgate_http_retries_total"), 0);
  EXPECT_EQ(counter("poolgate_http_response_errors_total"), 0);
}

TEST_F(HttpModeTest, AResponseWithTransferEncodingInTwoFieldsGets502AndItsConnectionIsDropped) {
  HttpBackend backend;
  start_http_proxy(backend.address(), {"--pool-max-per-endpoint", "1"});
  HttpConnection client = connect_http();
  const auto refused = client.exchange(make_get("/two-codings"));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->result(), bhttp::status::bad_gateway);
  EXPECT_EQ(refused->count(bhttp::field::transfer_encoding), 0u);
  EXPECT_EQ(counter("poolgate_http_response_errors_total"), 1);
  EXPECT_TRUE(client.closed_by_peer(5s)) << "a 502 refusal ends the client connection";

  HttpConnection next = connect_http();
  const auto after = next.exchange(make_get("/hello"));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->result(), bhttp::status::ok);
  // "conn=<C> req=1": the first request on its backend connection, so not the one that sent two codings.
  EXPECT_EQ(after->body().rfind("conn=", 0), 0u) << after->body();
  EXPECT_TRUE(after->body().ends_with(" req=1")) << "the refused connection was reused: " << after->body();
  EXPECT_GE(backend.connections_accepted(), 2u);
}

TEST_F(HttpModeTest, AClientLeavingMidResponseLeaksNoBytesIntoAnotherClientsAnswer) {
  HttpBackend backend;
  start_http_proxy(backend.address(), {"--pool-max-per-endpoint", "1"});
  {
    HttpConnection leaver = connect_http();
    ASSERT_TRUE(leaver.send(make_get("/big?bytes=16777216")));
    ASSERT_TRUE(leaver.read_raw(4096).has_value());
  }  // gone with most of 16 MiB still on the way
  for (int i = 0; i < 5; ++i) {
    HttpConnection next = connect_http();
    const auto response = next.exchange(make_get("/hello"));
    ASSERT_TRUE(response.has_value()) << "request " << i;
    EXPECT_EQ(response->result(), bhttp::status::ok);
    EXPECT_EQ(response->body().rfind("conn=", 0), 0u) << "foreign bytes in the answer: " << response->body().substr(0, 40);
  }
  EXPECT_GE(backend.connections_accepted(), 2u) << "the interrupted connection must not be reused";
  EXPECT_TRUE(requests_in_flight_become(0)) << "the interrupted request is still counted in flight:\n" << last_scrape_;
}

TEST_F(HttpModeTest, AnUpgradeSwitchesTheClientToATunnelWithItsBackendConnection) {
  HttpBackend backend;
  start_http_proxy(backend.address());
  HttpConnection client = connect_http();
  ASSERT_TRUE(client.send_raw("GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: test-protocol\r\n\r\n"));
  const auto switching = client.read_response();
  ASSERT_TRUE(switching.has_value());
  EXPECT_EQ(switching->result(), bhttp::status::switching_protocols);
  EXPECT_EQ((*switching)[bhttp::field::upgrade], "test-protocol");

  for (const std::string& payload : std::vector<std::string>{"ping", std::string(100000, 'x'), "not HTTP at all\r\n\r\n"}) {
    ASSERT_TRUE(client.send_raw(payload));
    EXPECT_EQ(client.read_raw(payload.size()), payload);
  }
}

TEST_F(HttpModeTest, ASuccessfulConnectBecomesATunnel) {
  HttpBackend backend;
  start_http_proxy(backend.address());
  HttpConnection client = connect_http();
  ASSERT_TRUE(client.send_raw("CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n"));
  const auto established = client.read_response(true);  // a 2xx to CONNECT has no body
  ASSERT_TRUE(established.has_value());
  EXPECT_EQ(established->result(), bhttp::status::ok);
  ASSERT_TRUE(client.send_raw("\x16\x03\x01 raw tunnel bytes"));
  EXPECT_EQ(client.read_raw(20), std::string("\x16\x03\x01 raw tunnel bytes"));
}

TEST_F(HttpModeTest, AReusedConnectionClosedUnderAnIdempotentRequestIsRetriedOnceOthersNever) {
  HttpBackend backend;
  start_http_proxy(backend.address(), {"--pool-max-per-endpoint", "2"});
  // Both warm connections idle in the pool (not merely accepted by the backend), so the order below is known.
  ASSERT_TRUE(wait_for_metrics([](const auto& m) { return metric_sum(m, "poolgate_pool_idle_connections") == 2; }))
      << "the pool never warmed up: " << last_scrape_;
  backend.close_silently_after(1);
  HttpConnection client = connect_http();
  // The first request is a warm connection's first; the second goes on that same connection (newest first),
  // which the backend now closes on receiving it, and is sent again on a fresh one.
  for (int i = 0; i < 2; ++i) {
    const auto response = client.exchange(make_get("/hello"));
    ASSERT_TRUE(response.has_value()) << "request " << i;
    EXPECT_EQ(response->result(), bhttp::status::ok) << "request " << i;
  }
  EXPECT_EQ(counter("poolgate_http_retries_total"), 1);

  // A POST on a used connection meets the same fate and is not sent again.
  HttpConnection poster = connect_http();
  const auto posted = poster.exchange(make_post("/echo", "once"));
  ASSERT_TRUE(posted.has_value());
  EXPECT_EQ(posted->result(), bhttp::status::bad_gateway);
  EXPECT_EQ(counter("poolgate_http_retries_total"), 1);
  EXPECT_EQ(counter("poolgate_http_response_errors_total"), 1);
}

// poolgate_http_requests_in_flight is also what the event loop reads to know it is under load
// (server/event_loop.hpp): a count that never came back down would keep it waiting for work forever.
TEST_F(HttpModeTest, ARequestInFlightCountsAsActiveAndInFlightAResponseUnderWayOrATunnelOnlyAsActive) {
  HttpBackend backend;
  start_http_proxy(backend.address());
  const std::map<std::string, std::string> of_backend{{"endpoint", backend.address()}};
  auto active_becomes = [&](double expected) {
    return wait_for_metrics(
        [&](const auto& m) { return metric_sum(m, "poolgate_connections_active", of_backend) == expected; });
  };

  HttpConnection client = connect_http();
  ASSERT_TRUE(client.send(make_get("/slow")));
  ASSERT_TRUE(wait_until([&] { return backend.slow_requests_waiting() == 1; }, 5s))
      << "/slow never reached the backend";
  EXPECT_TRUE(active_becomes(1)) << "a request in flight is not counted:\n" << last_scrape_;
  EXPECT_TRUE(requests_in_flight_become(1)) << "a request in flight is not counted:\n" << last_scrape_;
  backend.release_slow();
  const auto response = client.read_response();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body().rfind("slow conn=", 0), 0u) << response->body();
  // The client connection stays open, idle between requests: that is not a request in flight.
  EXPECT_TRUE(active_becomes(0)) << "still counted after its response ended:\n" << last_scrape_;
  EXPECT_TRUE(requests_in_flight_become(0)) << "still in flight after its response came:\n" << last_scrape_;

  // A long answer under way (here a big one the client reads slowly; a watch is the same) counts as active but
  // not in flight: it says nothing about load.
  HttpConnection slow_reader = connect_http();
  ASSERT_TRUE(slow_reader.send(make_get("/big?bytes=16777216")));
  ASSERT_TRUE(slow_reader.read_raw(4096).has_value());
  EXPECT_TRUE(active_becomes(1)) << "a response under way is not counted:\n" << last_scrape_;
  EXPECT_TRUE(requests_in_flight_become(0))
      << "a response under way counts as a request in flight:\n" << last_scrape_;
  slow_reader.close();
  EXPECT_TRUE(active_becomes(0)) << "an abandoned response is still counted:\n" << last_scrape_;

  HttpConnection tunnel = connect_http();
  ASSERT_TRUE(
      tunnel.send_raw("GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: test-protocol\r\n\r\n"));
  const auto switching = tunnel.read_response();
  ASSERT_TRUE(switching && switching->result() == bhttp::status::switching_protocols);
  ASSERT_TRUE(tunnel.send_raw("ping"));
  ASSERT_EQ(tunnel.read_raw(4), "ping");
  EXPECT_TRUE(active_becomes(1)) << "an open tunnel is not counted:\n" << last_scrape_;
  EXPECT_TRUE(requests_in_flight_become(0)) << "an open tunnel counts as a request in flight:\n" << last_scrape_;
  tunnel.close();
  EXPECT_TRUE(active_becomes(0)) << "a closed tunnel is still counted:\n" << last_scrape_;
}

TEST_F(HttpModeTest, AnHttp10ClientGetsItsAnswerAndTheConnectionEnds) {
  HttpBackend backend;
  start_http_proxy(backend.address());
  HttpConnection client = connect_http();
  ASSERT_TRUE(client.send_raw("GET /echo?chunked HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello"));
  const auto response = client.read_response();
  ASSERT_TRUE(response.has_value());
  // 1.0 knows no chunked coding: the body comes as it is and the close marks its end.
  EXPECT_FALSE(response->chunked());
  EXPECT_EQ(response->body(), "hello");
  EXPECT_TRUE(client.closed_by_peer(5s));
}

TEST_F(HttpModeTest, ForwardingAddsViaAndXForwardedForAndStripsHopByHopFields) {
  HttpBackend backend;
  start_http_proxy(backend.address());
  HttpConnection client = connect_http();
  HttpRequestMessage request = make_get("/headers");
  request.set(bhttp::field::connection, "keep-alive, X-Hop");
  request.set("X-Hop", "secret");
  request.set(bhttp::field::keep_alive, "timeout=5");
  request.set(bhttp::field::te, "trailers");
  request.set(bhttp::field::via, "1.0 upstream");
  request.set("X-Forwarded-For", "10.1.1.1");
  request.set("X-End-To-End", "kept");
  const auto response = client.exchange(request);
  ASSERT_TRUE(response.has_value());
  const std::string& seen = response->body();
  EXPECT_NE(seen.find("X-Forwarded-For: 10.1.1.1, 127.0.0.1\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("Via: 1.0 upstream, 1.1 poolgate\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("X-End-To-End: kept\n"), std::string::npos) << seen;
  for (const char* hop : {"X-Hop:", "Keep-Alive:", "TE:", "Connection:"}) {
    EXPECT_EQ(seen.find(hop), std::string::npos) << hop << " reached the backend:\n" << seen;
  }
  EXPECT_EQ((*response)[bhttp::field::via], "1.1 poolgate");
}

}  // namespace
}  // namespace poolgate::test

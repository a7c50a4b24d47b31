// Which new connections the listener hands to poolgate at once: in HTTP mode only those whose client has sent
// something (the kernel holds a silent one back for about a second), in TCP mode every one, since there the
// backend may be the side that speaks first.
#include "http_fixture.hpp"
#include "support/client.hpp"
#include "support/servers.hpp"

namespace poolgate::test {
namespace {

namespace bhttp = boost::beast::http;

double accepted(const std::vector<MetricSample>& samples) {
  return metric_sum(samples, "poolgate_connections_accepted_total");
}

class AcceptTest : public HttpModeTest {};

TEST_F(AcceptTest, InHttpModeASilentClientWaitsInTheKernelWhileOneWithARequestIsServedAndIsAcceptedLater) {
  HttpBackend backend;
  start_http_proxy(backend.address());
  Client silent = Client::connect(proxy_port());

  // Accepted in the order they connected, without the hold the silent one would come first; with it, the
  // client that connected second and sent a request is the only one poolgate has seen.
  HttpConnection speaking = connect_http();
  const auto answer = speaking.exchange(make_get("/hello"));
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->result(), bhttp::status::ok);
  EXPECT_EQ(accepted(samples()), 1.0) << "a client that has sent nothing was accepted at once";

  // Held back, not lost: once the kernel lets it through, the silent client is an ordinary one.
  EXPECT_TRUE(wait_for_metrics([](const auto& m) { return accepted(m) == 2.0; })) << last_scrape_;
  ASSERT_TRUE(silent.send_all("GET /hello HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"));
  const auto reply = silent.recv_until_eof();
  ASSERT_TRUE(reply.has_value());
  EXPECT_TRUE(reply->starts_with("HTTP/1.1 200 ")) << *reply;
}

TEST_F(AcceptTest, InTcpModeASilentClientIsAcceptedAtOnceAndGetsTheBackendsGreeting) {
  const auto backend = start_banner_echo_server();
  start_proxy(endpoint_args({backend.get()}) + Args{"--threads", "1"});
  Client silent = Client::connect(proxy_port());

  // The silent client connected first, so by the time the second one (which sends before it reads) has its
  // echo, the first was accepted.
  Client talking = Client::connect(proxy_port());
  ASSERT_TRUE(talking.send_all("ping\n"));
  const auto banner = talking.recv_line();
  ASSERT_TRUE(banner.has_value());
  EXPECT_TRUE(banner->starts_with("banner-")) << *banner;
  EXPECT_EQ(talking.recv_line(), "ping\n");
  EXPECT_EQ(accepted(samples()), 2.0) << "a client that has sent nothing was held back in TCP mode";

  const auto greeting = silent.recv_line();
  ASSERT_TRUE(greeting.has_value()) << "the silent client got no banner";
  EXPECT_TRUE(greeting->starts_with("banner-")) << *greeting;
}

}  // namespace
}  // namespace poolgate::test

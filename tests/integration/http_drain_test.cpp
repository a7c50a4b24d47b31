// HTTP mode's drain on SIGTERM: clients idle between requests are let go at once, a request in flight gets its
// whole response (saying Connection: close) before its client is closed, and poolgate exits without waiting
// for the drain timeout.
#include "http_fixture.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include <csignal>

namespace poolgate::test {
namespace {

namespace bhttp = boost::beast::http;

TEST_F(HttpModeTest, SigtermClosesIdleClientsAtOnceAndEndsRequestsInFlightWithConnectionClose) {
  HttpBackend backend;
  start_http_proxy(backend.address(), {"--drain-timeout", "20s"});

  HttpConnection idle = connect_http();  // keep-alive, between requests
  const auto first = idle.exchange(make_get("/hello"));
  ASSERT_TRUE(first && first->result() == bhttp::status::ok);
  ASSERT_TRUE(first->keep_alive());
  HttpConnection busy = connect_http();
  ASSERT_TRUE(busy.send(make_get("/slow")));
  ASSERT_TRUE(wait_until([&] { return backend.slow_requests_waiting() == 1; }, 5s))
      << "/slow never reached the backend";

  const auto signalled_at = std::chrono::steady_clock::now();
  proxy().send_signal(SIGTERM);
  EXPECT_TRUE(idle.closed_by_peer(3s)) << "an idle keep-alive client is still open 3 s into a 20 s drain";
  EXPECT_LT(elapsed_since(signalled_at), 3s);
  EXPECT_TRUE(proxy().running()) << "exited with a request in flight";

  backend.release_slow();
  const auto response = busy.read_response();
  ASSERT_TRUE(response.has_value()) << "the request in flight lost its response";
  EXPECT_EQ(response->result(), bhttp::status::ok);
  EXPECT_EQ(response->body().rfind("slow conn=", 0), 0u) << response->body();
  EXPECT_TRUE(boost::beast::iequals((*response)[bhttp::field::connection], "close"))
      << "Connection: " << (*response)[bhttp::field::connection];
  EXPECT_TRUE(busy.closed_by_peer(3s)) << "the client stayed open after its last response";

  EXPECT_EQ(proxy().wait_exit(5s), 0) << "poolgate waited for the 20 s drain timeout";
  EXPECT_LT(elapsed_since(signalled_at), 8s);
}

TEST_F(HttpModeTest, AClientThatNeverSentARequestIsLetGoByTheDrain) {
  HttpBackend backend;
  start_http_proxy(backend.address(), {"--drain-timeout", "20s"});
  HttpConnection silent = connect_http();
  // Connected is not yet accepted: wait until poolgate has taken the client in.
  ASSERT_TRUE(
      wait_for_metrics([](const auto& m) { return metric_sum(m, "poolgate_connections_accepted_total") == 1; }));

  const auto signalled_at = std::chrono::steady_clock::now();
  proxy().send_signal(SIGTERM);
  EXPECT_TRUE(silent.closed_by_peer(3s)) << "a client that sent nothing is still open 3 s into a 20 s drain";
  EXPECT_EQ(proxy().wait_exit(5s), 0) << "poolgate waited for the 20 s drain timeout";
  EXPECT_LT(elapsed_since(signalled_at), 8s);
}

}  // namespace
}  // namespace poolgate::test

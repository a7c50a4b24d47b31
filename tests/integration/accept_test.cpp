// Which new connections the listener hands to poolgate at once. HTTP mode holds a silent client back in the
// kernel (TCP_DEFER_ACCEPT) only while clients queue for the worker, and lets it go again once they stop; TCP
// mode never does, since there the backend may be the side that speaks first.
#include "http_fixture.hpp"
#include "support/client.hpp"
#include "support/servers.hpp"

#include <memory>
#include <optional>
#include <vector>

namespace poolgate::test {
namespace {

namespace bhttp = boost::beast::http;

constexpr std::size_t kBurst = 10;  // clients that meet a stopped poolgate: one backlog of 10 when it resumes
// Single clients after which a worker that saw the burst no longer counts as busy (AcceptDeferral's running
// mean decays by 7/8 per backlog: from 2.1 to below 1.05 takes 24).
constexpr int kSingleClients = 30;

double accepted(const std::vector<MetricSample>& samples) {
  return metric_sum(samples, "poolgate_connections_accepted_total");
}

class AcceptTest : public HttpModeTest {
 protected:
  // A client that sends nothing connects, then `speak` runs a client that talks first. Returns how many clients
  // poolgate accepted meanwhile: the silent one connected first, so 2 unless it was held back (then 1). The
  // silent client is left in `silent`.
  template <class Speak>
  double accepted_around_a_silent_client(std::optional<Client>& silent, Speak&& speak) {
    const double before = accepted(samples());
    silent.emplace(connect_client());
    speak();
    return accepted(samples()) - before;
  }

  double accepted_around_a_silent_http_client(std::optional<Client>& silent) {
    return accepted_around_a_silent_client(silent, [&] { EXPECT_EQ(status_of_hello(), 200u); });
  }

  unsigned status_of_hello() { return status_of_raw_request("GET /hello HTTP/1.1\r\nHost: test\r\n\r\n"); }

  // `silent`, once it sends a request, is answered like any client.
  static void expect_answered(Client& silent) {
    ASSERT_TRUE(silent.send_all("GET /hello HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"));
    const auto reply = silent.recv_until_eof();
    ASSERT_TRUE(reply.has_value());
    EXPECT_TRUE(reply->starts_with("HTTP/1.1 200 ")) << *reply;
  }
};

TEST_F(AcceptTest, InHttpModeQueueingClientsMakeTheListenerHoldSilentOnesBackUntilTheyStopQueueing) {
  HttpBackend backend;
  start_http_proxy(backend.address());
  std::optional<Client> silent;

  // At rest a connection is accepted at once, so a lone client pays no wait for its request to arrive first.
  EXPECT_EQ(accepted_around_a_silent_http_client(silent), 2.0) << "a silent client was held back at rest";
  expect_answered(*silent);

  // A burst: the worker finds ten clients waiting when it next drains its backlog.
  std::vector<std::unique_ptr<HttpConnection>> burst;
  while_stopped([&] {
    for (std::size_t i = 0; i < kBurst; ++i) {
      burst.push_back(std::make_unique<HttpConnection>(proxy_port()));
      ASSERT_TRUE(burst.back()->send(make_get("/hello"))) << "client " << i << " could not send";
    }
  });
  ASSERT_FALSE(HasFatalFailure());
  for (std::size_t i = 0; i < kBurst; ++i) {
    const auto answer = burst[i]->read_response();
    ASSERT_TRUE(answer.has_value()) << "burst client " << i << " got no answer";
    EXPECT_EQ(answer->result(), bhttp::status::ok);
  }

  // Now the kernel holds a silent client back while one that sent a request is served.
  const double before = accepted(samples());
  EXPECT_EQ(accepted_around_a_silent_http_client(silent), 1.0) << "a silent client was accepted after the burst";
  // Held back, not lost: the kernel lets it through after about a second.
  EXPECT_TRUE(wait_for_metrics([&](const auto& m) { return accepted(m) == before + 2; })) << last_scrape_;
  expect_answered(*silent);

  // Clients one at a time: the worker is no longer busy and accepts at once again.
  for (int i = 0; i < kSingleClients; ++i) ASSERT_EQ(status_of_hello(), 200u) << "single client " << i;
  EXPECT_EQ(accepted_around_a_silent_http_client(silent), 2.0) << "a silent client was still held back";
  expect_answered(*silent);
}

TEST_F(AcceptTest, InTcpModeASilentClientIsAcceptedAtOnceEvenAfterABurstAndGetsTheBackendsGreeting) {
  const auto backend = start_banner_echo_server();
  start_proxy(endpoint_args({backend.get()}) + Args{"--threads", "1"});
  // The client that talks sends before it reads, so it would be served at once even by a deferring listener.
  const auto talk = [&] {
    Client talking = connect_client();
    ASSERT_TRUE(talking.send_all("ping\n"));
    const auto banner = talking.recv_line();
    ASSERT_TRUE(banner.has_value());
    EXPECT_TRUE(banner->starts_with("banner-")) << *banner;
    EXPECT_EQ(talking.recv_line(), "ping\n");
  };

  std::vector<Client> burst;
  while_stopped([&] {
    for (std::size_t i = 0; i < kBurst; ++i) {
      burst.push_back(connect_client());
      ASSERT_TRUE(burst.back().send_all("ping\n")) << "client " << i << " could not send";
    }
  });
  ASSERT_FALSE(HasFatalFailure());
  for (std::size_t i = 0; i < kBurst; ++i) {
    ASSERT_TRUE(burst[i].recv_line().has_value()) << "burst client " << i << " got no banner";
    EXPECT_EQ(burst[i].recv_line(), "ping\n") << "burst client " << i;
  }

  std::optional<Client> silent;
  EXPECT_EQ(accepted_around_a_silent_client(silent, talk), 2.0) << "a silent client was held back in TCP mode";
  const auto greeting = silent->recv_line();
  ASSERT_TRUE(greeting.has_value()) << "the silent client got no banner";
  EXPECT_TRUE(greeting->starts_with("banner-")) << *greeting;
}

}  // namespace
}  // namespace poolgate::test

// Which new connections the listener hands to poolgate at once. HTTP mode holds a silent client back in the
// kernel (TCP_DEFER_ACCEPT) only while clients queue for the worker, and lets it go again once they stop; TCP
// mode never does, since there the backend may be the side that speaks first.
#include "http_fixture.hpp"
#include "poolgate/server/accept_deferral.hpp"
#include "support/client.hpp"
#include "support/proc_stats.hpp"
#include "support/servers.hpp"

#include <memory>
#include <optional>
#include <vector>

namespace poolgate::test {
namespace {

namespace bhttp = boost::beast::http;

using server::AcceptDeferral;

constexpr std::size_t kBurst = 10;  // clients that meet a stopped poolgate: a backlog of 10 when it resumes

// Lone clients (one per drained backlog) after which a worker stops deferring, whatever the burst left it at:
// counted on an AcceptDeferral brought as near its highest mean as backlogs can take it.
constexpr int lone_clients_to_stop_deferring() {
  AcceptDeferral deferral;
  for (int i = 0; i < 200; ++i) deferral.note_drained_backlog(AcceptDeferral::kLargestSample);
  int clients = 0;
  for (; deferral.deferring(); ++clients) deferral.note_drained_backlog(1);
  return clients;
}
constexpr int kSingleClients = lone_clients_to_stop_deferring() + 5;
static_assert(kSingleClients < 100, "AcceptDeferral forgets a burst too slowly for this test");

double deferring_workers(const std::vector<MetricSample>& samples) {
  return metric_sum(samples, "poolgate_accept_deferring_workers");
}

class AcceptTest : public HttpModeTest {
 protected:
  // Connects a client that sends nothing, and returns what the kernel made of poolgate's end at once: a socket
  // for poolgate to accept, or a request held until the client's first bytes (which a one-second SYN-ACK
  // retransmission ends, long after this look).
  ServerEnd connect_silent_client(std::optional<Client>& silent) {
    silent.emplace(connect_client());
    return server_end(proxy_port(), silent->local_port());
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
  EXPECT_EQ(connect_silent_client(silent), ServerEnd::established) << "a silent client was held back at rest";
  expect_answered(*silent);
  EXPECT_EQ(deferring_workers(samples()), 0.0);

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
  EXPECT_TRUE(wait_for_metrics([](const auto& m) { return deferring_workers(m) == 1.0; }))
      << "the burst did not turn deferring on:\n"
      << last_scrape_;

  // Now the kernel holds a silent client back...
  EXPECT_EQ(connect_silent_client(silent), ServerEnd::waiting) << "a silent client was not held back after the burst";
  // ...but does not lose it: it lets it through after about a second, and poolgate serves it.
  const std::uint16_t silent_port = silent->local_port();
  EXPECT_TRUE(wait_until([&] { return server_end(proxy_port(), silent_port) == ServerEnd::established; }, 10s));
  expect_answered(*silent);

  // Clients one at a time: the worker is no longer busy and accepts at once again.
  for (int i = 0; i < kSingleClients; ++i) ASSERT_EQ(status_of_hello(), 200u) << "single client " << i;
  EXPECT_EQ(deferring_workers(samples()), 0.0) << kSingleClients << " lone clients did not end the deferral";
  EXPECT_EQ(connect_silent_client(silent), ServerEnd::established) << "a silent client was still held back";
  expect_answered(*silent);
}

TEST_F(AcceptTest, InTcpModeASilentClientIsAcceptedAtOnceEvenAfterABurstAndGetsTheBackendsGreeting) {
  const auto backend = start_banner_echo_server();
  start_proxy(endpoint_args({backend.get()}) + Args{"--threads", "1"});
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
  EXPECT_EQ(connect_silent_client(silent), ServerEnd::established) << "a silent client was held back in TCP mode";
  const auto greeting = silent->recv_line();
  ASSERT_TRUE(greeting.has_value()) << "the silent client got no banner";
  EXPECT_TRUE(greeting->starts_with("banner-")) << *greeting;
  EXPECT_EQ(deferring_workers(samples()), 0.0);
}

}  // namespace
}  // namespace poolgate::test

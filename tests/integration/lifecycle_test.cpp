// Process lifecycle: graceful drain on SIGTERM/SIGINT, and refusing to start on a busy listen address.
#include "poolgate_fixture.hpp"

#include <csignal>

namespace poolgate::test {
namespace {

class LifecycleTest : public PoolgateTest {
 protected:
  // A client connection through poolgate that has shown it works.
  Client open_proxied_connection() {
    Client client = connect_client();
    EXPECT_EQ(client.echo("before the signal"), "before the signal");
    return client;
  }

  [[nodiscard]] bool new_connects_are_refused() const {
    return wait_until([&] { return !Client::try_connect(proxy_port(), 200ms).has_value(); }, 1s);
  }

  std::unique_ptr<LoopbackServer> backend_ = start_echo_server();
};

struct StopSignal {
  int number;
  const char* name;
};
void PrintTo(const StopSignal& signal, std::ostream* out) { *out << signal.name; }

class DrainTest : public LifecycleTest, public ::testing::WithParamInterface<StopSignal> {};

TEST_P(DrainTest, StopsAcceptingAtOnceThenClosesOpenConnectionsAtTheDrainTimeoutAndExitsZero) {
  start_proxy(endpoint_args({backend_.get()}) + Args{"--drain-timeout", "1s"});
  Client client = open_proxied_connection();

  const auto signalled_at = std::chrono::steady_clock::now();
  proxy().send_signal(GetParam().number);

  EXPECT_TRUE(new_connects_are_refused()) << "still accepting 1 s after the signal";
  EXPECT_EQ(client.echo("while draining"), "while draining") << "open connection broken during the drain";
  EXPECT_TRUE(client.is_closed_by_peer(4s)) << "open connection not closed at the drain timeout";
  EXPECT_GE(elapsed_since(signalled_at), 900ms) << "closed before the 1 s drain timeout";
  EXPECT_EQ(proxy().wait_exit(3s), 0);
  EXPECT_LT(elapsed_since(signalled_at), 4s);
}

INSTANTIATE_TEST_SUITE_P(, DrainTest, ::testing::Values(StopSignal{SIGTERM, "Sigterm"}, StopSignal{SIGINT, "Sigint"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(LifecycleTest, DrainEndsAsSoonAsTheLastConnectionCloses) {
  start_proxy(endpoint_args({backend_.get()}) + Args{"--drain-timeout", "30s"});
  std::optional<Client> client = open_proxied_connection();

  proxy().send_signal(SIGTERM);
  ASSERT_TRUE(new_connects_are_refused());
  EXPECT_EQ(client->echo("while draining"), "while draining");
  client.reset();
  const auto last_closed_at = std::chrono::steady_clock::now();

  EXPECT_EQ(proxy().wait_exit(5s), 0) << "kept waiting for the 30 s drain timeout with nothing open";
  EXPECT_LT(elapsed_since(last_closed_at), 5s);
}

TEST_F(LifecycleTest, ListenAddressInUseExitsWithStatus1AndSaysSo) {
  const auto occupant = start_echo_server();

  EXPECT_EQ(run_proxy_until_exit(endpoint_args({backend_.get()}) + Args{"--listen", occupant->address()}), 1);
  EXPECT_NE(proxy().log_text().find("in use"), std::string::npos);
}

}  // namespace
}  // namespace poolgate::test

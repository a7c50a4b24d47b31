// Endpoint choice: round robin over the active endpoints, and failover when one of them dies.
#include "poolgate_fixture.hpp"

#include <map>

namespace poolgate::test {
namespace {

class BalanceTest : public PoolgateTest {
 protected:
  void start_tagged_backends(const Args& extra_args) {
    for (const char* name : {"alpha", "beta", "gamma"}) {
      backends_.push_back(start_tagged_echo_server(name));
    }
    start_proxy(endpoint_args({backends_[0].get(), backends_[1].get(), backends_[2].get()}) + extra_args);
  }

  // How many of `clients` sequential new connections reached each backend tag.
  std::map<std::string, int> spread_of_new_connections(int clients) {
    std::map<std::string, int> hits;
    for (int i = 0; i < clients; ++i) {
      ++hits[tag_of_new_connection()];
    }
    return hits;
  }

  std::vector<std::unique_ptr<LoopbackServer>> backends_;
};

TEST_F(BalanceTest, RoundRobinSpreadsEvenlyOverThreeEndpointsWithOneThread) {
  start_tagged_backends({"--threads", "1"});

  const auto hits = spread_of_new_connections(30);

  EXPECT_EQ(hits.count(""), 0u) << "some clients got no backend";
  for (const char* name : {"alpha", "beta", "gamma"}) {
    // Strict round robin gives 10 each; allow a little slack, but not a skewed or missing endpoint.
    EXPECT_GE(hits.count(name) ? hits.at(name) : 0, 7) << name;
    EXPECT_LE(hits.count(name) ? hits.at(name) : 0, 13) << name;
  }
}

TEST_F(BalanceTest, EveryEndpointIsReachedWithTwoThreads) {
  start_tagged_backends({"--threads", "2"});

  const auto hits = spread_of_new_connections(30);

  EXPECT_EQ(hits.count(""), 0u) << "some clients got no backend";
  for (const char* name : {"alpha", "beta", "gamma"}) {
    EXPECT_GT(hits.count(name), 0u) << name << " never reached";
  }
}

enum class Death { whole_server, listener_only };

const char* name_of(Death death) { return death == Death::whole_server ? "ServerStopped" : "ListenerClosed"; }
void PrintTo(Death death, std::ostream* out) { *out << name_of(death); }

class EndpointDeathTest : public BalanceTest, public ::testing::WithParamInterface<Death> {};

TEST_P(EndpointDeathTest, NoClientFailsWhenOneOfTwoEndpointsDiesBetweenClients) {
  const auto survivor = start_echo_server();
  const auto victim = start_echo_server();
  start_proxy(endpoint_args({survivor.get(), victim.get()}) + Args{"--connect-timeout", "200ms"});
  constexpr int kClients = 60;
  constexpr int kKilledBefore = 20;

  for (int i = 0; i < kClients; ++i) {
    if (i == kKilledBefore) {
      ASSERT_GT(victim->accepted_count(), 0u) << "the victim was never used, so the test proves nothing";
      // Killed between two clients, so no client is mid-flight on it: every failure is poolgate's.
      if (GetParam() == Death::whole_server) {
        victim->stop();
      } else {
        victim->close_listener();  // its pooled connections still work; new dials are refused
      }
    }
    EXPECT_TRUE(new_connection_echoes("client " + std::to_string(i))) << "client " << i << " failed";
  }
}

INSTANTIATE_TEST_SUITE_P(, EndpointDeathTest, ::testing::Values(Death::whole_server, Death::listener_only),
                         [](const auto& info) { return std::string(name_of(info.param)); });

}  // namespace
}  // namespace poolgate::test

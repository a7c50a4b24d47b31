// Covers balance/: RoundRobin rotation and failover, backend sets across reloads, resolving endpoints, and the
// cross-thread pool budget of a Backend.
#include "poolgate/balance/backend.hpp"
#include "poolgate/balance/resolve.hpp"
#include "poolgate/balance/round_robin.hpp"
#include "poolgate/config/error.hpp"

#include "config_test_helpers.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace poolgate::balance {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
namespace ip = boost::asio::ip;

// A backend set of IP literals ("10.0.0.1:6443", "[fd00::2]:6443"), built the way the control thread does.
BackendSetPtr make_set(const std::vector<config::HostPort>& endpoints, const BackendSet* previous = nullptr) {
  return next_backend_set(resolve_endpoints(endpoints), previous);
}

std::vector<std::string> keys_of(const BackendSet& set) {
  std::vector<std::string> keys;
  for (const BackendPtr& backend : set.backends) keys.push_back(backend->key);
  return keys;
}

std::vector<std::string> keys_of(const std::vector<ResolvedEndpoint>& endpoints) {
  std::vector<std::string> keys;
  for (const ResolvedEndpoint& endpoint : endpoints) keys.push_back(endpoint.key);
  return keys;
}

// ---- RoundRobin -----------------------------------------------------------------------------------------

class RoundRobinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_ = make_set({{"10.0.0.1", 6443}, {"10.0.0.2", 6443}, {"10.0.0.3", 6443}});
    balancer_.reset(set_);
  }

  Backend& backend(std::size_t index) { return *set_->backends.at(index); }

  // The backend each of `clients` successive clients is given first (its attempt's first candidate).
  std::vector<std::string> first_picks(int clients) {
    std::vector<std::string> picks;
    for (int i = 0; i < clients; ++i) {
      Backend* picked = balancer_.start().next();
      picks.push_back(picked ? picked->key : "<none>");
    }
    return picks;
  }

  // Every candidate one client's attempt offers, in order, until it runs out.
  std::vector<std::string> all_candidates_of_one_attempt() {
    std::vector<std::string> candidates;
    RoundRobin::Attempt attempt = balancer_.start();
    while (Backend* candidate = attempt.next()) {
      candidates.push_back(candidate->key);
      if (candidates.size() > 10) break;  // a broken attempt must not loop forever
    }
    return candidates;
  }

  BackendSetPtr set_;
  RoundRobin balancer_;
};

TEST_F(RoundRobinTest, RotatesOverAllBackendsInOrder) {
  EXPECT_THAT(first_picks(7), ElementsAre("10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443", "10.0.0.1:6443",
                                          "10.0.0.2:6443", "10.0.0.3:6443", "10.0.0.1:6443"));
}

TEST_F(RoundRobinTest, SkipsInactiveBackendWithoutSkewingTheOthers) {
  backend(1).active = false;
  // The clients that would have gone to .2 must not all land on .3: the rotation stays even.
  EXPECT_THAT(first_picks(6), ElementsAre("10.0.0.1:6443", "10.0.0.3:6443", "10.0.0.1:6443", "10.0.0.3:6443",
                                          "10.0.0.1:6443", "10.0.0.3:6443"));
}

TEST_F(RoundRobinTest, ReactivatedBackendRejoinsTheRotation) {
  backend(1).active = false;
  EXPECT_THAT(first_picks(2), ElementsAre("10.0.0.1:6443", "10.0.0.3:6443"));
  backend(1).active = true;
  EXPECT_THAT(first_picks(3), ElementsAre("10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"));
}

TEST_F(RoundRobinTest, FailoverVisitsEachBackendExactlyOncePerAttempt) {
  EXPECT_THAT(all_candidates_of_one_attempt(), ElementsAre("10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"));
}

TEST_F(RoundRobinTest, FailoverStartsWhereTheRotationIs) {
  first_picks(2);
  EXPECT_THAT(all_candidates_of_one_attempt(), ElementsAre("10.0.0.3:6443", "10.0.0.1:6443", "10.0.0.2:6443"));
}

TEST_F(RoundRobinTest, FailoverSkipsInactiveBackends) {
  backend(0).active = false;
  EXPECT_THAT(all_candidates_of_one_attempt(), ElementsAre("10.0.0.2:6443", "10.0.0.3:6443"));
}

TEST_F(RoundRobinTest, BackendGoingInactiveDuringAnAttemptIsNotOffered) {
  RoundRobin::Attempt attempt = balancer_.start();
  ASSERT_EQ(attempt.next(), &backend(0));
  backend(1).active = false;  // e.g. another client's dial just failed
  EXPECT_EQ(attempt.next(), &backend(2));
  EXPECT_EQ(attempt.next(), nullptr);
}

TEST_F(RoundRobinTest, NextClientStartsAfterTheBackendTheLastOneEndedOn) {
  RoundRobin::Attempt failing_client = balancer_.start();
  failing_client.next();  // .1 refuses
  failing_client.next();  // .2 accepts
  EXPECT_THAT(first_picks(1), ElementsAre("10.0.0.3:6443"));
}

TEST_F(RoundRobinTest, AllInactiveGivesNothing) {
  for (const BackendPtr& b : set_->backends) b->active = false;
  EXPECT_THAT(all_candidates_of_one_attempt(), IsEmpty());
  EXPECT_EQ(balancer_.start().next(), nullptr);
}

TEST_F(RoundRobinTest, EmptySetGivesNothing) {
  balancer_.reset(std::make_shared<BackendSet>());
  EXPECT_EQ(balancer_.start().next(), nullptr);
}

TEST(RoundRobin, WithoutAnySetGivesNothing) {
  RoundRobin balancer;
  EXPECT_EQ(balancer.set(), nullptr);
  EXPECT_EQ(balancer.start().next(), nullptr);
}

TEST_F(RoundRobinTest, ResetSwitchesToTheNewSetFromItsStart) {
  first_picks(2);
  auto replacement = make_set({{"10.0.0.8", 6443}, {"10.0.0.9", 6443}}, set_.get());
  balancer_.reset(replacement);
  EXPECT_EQ(balancer_.set(), replacement);
  EXPECT_THAT(first_picks(3), ElementsAre("10.0.0.8:6443", "10.0.0.9:6443", "10.0.0.8:6443"));
}

TEST_F(RoundRobinTest, ResetToASmallerSetNeverPicksOutsideIt) {
  first_picks(2);  // the cursor is on the third backend
  balancer_.reset(make_set({{"10.0.0.1", 6443}}, set_.get()));
  EXPECT_THAT(first_picks(2), ElementsAre("10.0.0.1:6443", "10.0.0.1:6443"));
}

// ---- endpoint_key / resolve_endpoints ---------------------------------------------------------------------

TEST(EndpointKey, FormatsIpv4AndBracketsIpv6) {
  EXPECT_EQ(endpoint_key({ip::make_address("10.0.0.1"), 6443}), "10.0.0.1:6443");
  EXPECT_EQ(endpoint_key({ip::make_address("::1"), 80}), "[::1]:80");
  EXPECT_EQ(endpoint_key({ip::make_address("fd00::2"), 6443}), "[fd00::2]:6443");
}

TEST(ResolveEndpoints, LiteralsSortedByKeyWithOriginAsConfigured) {
  const auto resolved = resolve_endpoints({{"10.0.0.2", 6443}, {"::1", 80}, {"10.0.0.1", 6443}});
  EXPECT_THAT(keys_of(resolved), ElementsAre("10.0.0.1:6443", "10.0.0.2:6443", "[::1]:80"));
  for (const ResolvedEndpoint& endpoint : resolved) {
    EXPECT_EQ(endpoint.origin, endpoint.key);
    EXPECT_EQ(endpoint_key(endpoint.address), endpoint.key);
  }
}

TEST(ResolveEndpoints, RemovesDuplicates) {
  EXPECT_THAT(keys_of(resolve_endpoints({{"10.0.0.1", 6443}, {"10.0.0.1", 6443}, {"10.0.0.1", 6444}})),
              ElementsAre("10.0.0.1:6443", "10.0.0.1:6444"));
}

TEST(ResolveEndpoints, NameResolvesToItsLoopbackAddresses) {
  const auto resolved = resolve_endpoints({{"localhost", 80}});
  ASSERT_THAT(resolved, Not(IsEmpty()));
  for (const ResolvedEndpoint& endpoint : resolved) {
    EXPECT_EQ(endpoint.origin, "localhost:80");
    EXPECT_TRUE(endpoint.address.address().is_loopback()) << endpoint.key;
    EXPECT_EQ(endpoint.address.port(), 80);
    EXPECT_EQ(endpoint.key, endpoint_key(endpoint.address));
  }
}

TEST(ResolveEndpoints, UnresolvableNameRefusesTheWholeSetAndNamesIt) {
  const std::string message = unit::config_error_message(
      [] { resolve_endpoints({{"10.0.0.1", 6443}, {"no-such-host.invalid", 80}}); });
  EXPECT_THAT(message, HasSubstr("no-such-host.invalid:80"));
}

// ---- next_backend_set -------------------------------------------------------------------------------------

TEST(NextBackendSet, FirstGenerationIsNewActiveAndSorted) {
  const auto set = make_set({{"10.0.0.2", 6443}, {"10.0.0.1", 6443}});
  EXPECT_EQ(set->generation, 1u);
  EXPECT_THAT(keys_of(*set), ElementsAre("10.0.0.1:6443", "10.0.0.2:6443"));
  for (const BackendPtr& backend : set->backends) {
    EXPECT_TRUE(backend->active);
    EXPECT_FALSE(backend->retired);
    EXPECT_EQ(backend->pooled.load(), 0);
  }
}

TEST(NextBackendSet, BackendThatStaysIsTheSameObjectSoHealthAndBudgetSurvive) {
  const auto first = make_set({{"10.0.0.1", 6443}, {"10.0.0.2", 6443}});
  BackendPtr staying = first->find("10.0.0.2:6443");
  ASSERT_NE(staying, nullptr);
  staying->active = false;
  ASSERT_TRUE(staying->try_reserve_pool_slot(5));

  const auto second = make_set({{"10.0.0.2", 6443}, {"10.0.0.3", 6443}}, first.get());
  EXPECT_EQ(second->generation, 2u);
  EXPECT_THAT(keys_of(*second), ElementsAre("10.0.0.2:6443", "10.0.0.3:6443"));
  EXPECT_EQ(second->find("10.0.0.2:6443"), staying);
  EXPECT_FALSE(second->find("10.0.0.2:6443")->active);
  EXPECT_EQ(second->find("10.0.0.2:6443")->pooled.load(), 1);
  EXPECT_TRUE(second->find("10.0.0.3:6443")->active);
  EXPECT_EQ(second->find("10.0.0.1:6443"), nullptr);
}

TEST(NextBackendSet, BackendThatLeftAndCameBackStartsFresh) {
  const auto first = make_set({{"10.0.0.1", 6443}});
  first->backends[0]->active = false;
  const auto second = make_set({{"10.0.0.2", 6443}}, first.get());
  const auto third = make_set({{"10.0.0.1", 6443}}, second.get());
  EXPECT_NE(third->backends[0], first->backends[0]);
  EXPECT_TRUE(third->backends[0]->active);
  EXPECT_EQ(third->generation, 3u);
}

TEST(NextBackendSet, EmptySetIsAllowed) {
  const auto set = next_backend_set({}, nullptr);
  EXPECT_THAT(set->backends, IsEmpty());
  EXPECT_EQ(set->find("10.0.0.1:6443"), nullptr);
}

TEST(BackendSetFind, FindsEveryKeyAndNothingElse) {
  const auto set = make_set({{"10.0.0.1", 6443}, {"10.0.0.2", 6443}, {"::1", 6443}});
  for (const BackendPtr& backend : set->backends) EXPECT_EQ(set->find(backend->key), backend);
  EXPECT_EQ(set->find("10.0.0.3:6443"), nullptr);
  EXPECT_EQ(set->find("10.0.0.1:644"), nullptr);
  EXPECT_EQ(set->find(""), nullptr);
}

// ---- Backend pool budget ----------------------------------------------------------------------------------

Backend make_backend() { return Backend("10.0.0.1:6443", "10.0.0.1:6443", {ip::make_address("10.0.0.1"), 6443}); }

TEST(BackendPoolBudget, ReservesUpToTheLimitAndNoMore) {
  Backend backend = make_backend();
  EXPECT_TRUE(backend.try_reserve_pool_slot(3));
  EXPECT_TRUE(backend.try_reserve_pool_slot(3));
  EXPECT_TRUE(backend.try_reserve_pool_slot(3));
  EXPECT_FALSE(backend.try_reserve_pool_slot(3));
  EXPECT_EQ(backend.pooled.load(), 3);
  backend.release_pool_slot();
  EXPECT_TRUE(backend.try_reserve_pool_slot(3));
  EXPECT_FALSE(backend.try_reserve_pool_slot(3));
}

TEST(BackendPoolBudget, ZeroLimitNeverReserves) {
  Backend backend = make_backend();
  EXPECT_FALSE(backend.try_reserve_pool_slot(0));
  EXPECT_EQ(backend.pooled.load(), 0);
}

TEST(BackendPoolBudget, LoweredLimitStopsReservationsAboveIt) {
  Backend backend = make_backend();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(backend.try_reserve_pool_slot(5));
  EXPECT_FALSE(backend.try_reserve_pool_slot(2));
  EXPECT_EQ(backend.pooled.load(), 5);
}

// Two threads released at the same moment, each calling `body` until it returns false.
template <class Body>
void race_two_threads(Body body) {
  std::atomic<bool> go{false};
  auto run = [&] {
    while (!go.load()) std::this_thread::yield();
    while (body()) {
    }
  };
  std::thread first(run);
  std::thread second(run);
  go = true;
  first.join();
  second.join();
}

TEST(BackendPoolBudget, TwoThreadsTogetherGetExactlyTheLimit) {
  constexpr int kLimit = 7;
  constexpr int kTriesPerThread = 100'000;
  for (int round = 0; round < 20; ++round) {
    Backend backend = make_backend();
    std::atomic<int> granted{0};
    std::atomic<int> tries{0};
    race_two_threads([&] {
      if (backend.try_reserve_pool_slot(kLimit)) ++granted;
      return ++tries < 2 * kTriesPerThread;
    });
    ASSERT_EQ(granted.load(), kLimit) << "round " << round;
    ASSERT_EQ(backend.pooled.load(), kLimit) << "round " << round;
  }
}

TEST(BackendPoolBudget, HammeringWithReleasesNeverExceedsTheLimit) {
  constexpr int kLimit = 2;
  Backend backend = make_backend();
  std::atomic<int> holders{0};
  std::atomic<int> most_holders{0};
  std::atomic<int> most_pooled{0};
  std::atomic<int> iterations{0};
  race_two_threads([&] {
    if (backend.try_reserve_pool_slot(kLimit)) {
      const int now_holding = ++holders;
      int seen = most_holders.load();
      while (now_holding > seen && !most_holders.compare_exchange_weak(seen, now_holding)) {
      }
      const int pooled = backend.pooled.load();
      seen = most_pooled.load();
      while (pooled > seen && !most_pooled.compare_exchange_weak(seen, pooled)) {
      }
      --holders;
      backend.release_pool_slot();
    }
    return ++iterations < 400'000;
  });
  EXPECT_LE(most_holders.load(), kLimit);
  EXPECT_LE(most_pooled.load(), kLimit);
  EXPECT_GE(most_holders.load(), 1);
  EXPECT_EQ(backend.pooled.load(), 0);
}

}  // namespace
}  // namespace poolgate::balance

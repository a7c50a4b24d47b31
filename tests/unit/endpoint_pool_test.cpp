// Covers pool::EndpointPool against a real loopback server: refill, hits and misses, the shared budget, eviction
// of dead and expired connections, release and shutdown.
#include "poolgate/balance/backend.hpp"
#include "poolgate/balance/resolve.hpp"
#include "poolgate/pool/endpoint_pool.hpp"
#include "poolgate/pool/liveness.hpp"

#include "loopback.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace poolgate::pool {
namespace {

using namespace std::chrono_literals;
using ::testing::IsEmpty;
using unit::tcp;

balance::BackendPtr backend_at(const tcp::endpoint& address) {
  const std::string key = balance::endpoint_key(address);
  return std::make_shared<balance::Backend>(key, key, address);
}

PoolSettings settings_with_max(unsigned max_per_endpoint) {
  PoolSettings settings;
  settings.max_per_endpoint = max_per_endpoint;
  settings.connect_timeout = 2s;
  return settings;
}

// One io_context run by the test itself, a loopback server as the backend, and pools of that backend.
class EndpointPoolTest : public ::testing::Test {
 protected:
  std::shared_ptr<EndpointPool> make_pool(PoolSettings settings = settings_with_max(10)) {
    return std::make_shared<EndpointPool>(
        io_.get_executor(), backend_, settings,
        [this](const balance::BackendPtr& backend, const boost::system::error_code& ec) {
          dial_failures_.emplace_back(backend->key, ec);
        });
  }

  // acquire() as an optional, which reads better in assertions.
  std::optional<tcp::socket> take(EndpointPool& pool, Checkout* checkout = nullptr) {
    tcp::socket socket(io_);
    if (!pool.acquire(socket, checkout)) return std::nullopt;
    return socket;
  }

  bool run_until(auto condition, std::chrono::milliseconds timeout = unit::kPatience) {
    return unit::run_until(io_, std::move(condition), timeout);
  }
  void run_for(std::chrono::milliseconds duration) { unit::run_for(io_, duration); }
  // Idle times are measured in ticks of a coarse clock: a connection that became idle in this tick has been
  // idle for no time at all.
  void wait_for_idle_clock_tick() {
    const IdleClock::time_point start = IdleClock::now();
    ASSERT_TRUE(run_until([&] { return IdleClock::now() > start; })) << "the idle clock never moved";
  }

  // Refills `pool` and runs until it holds its warm target and the server has accepted every connection.
  [[nodiscard]] bool warm_up(EndpointPool& pool) {
    pool.refill();
    return run_until([&] {
      return pool.idle_count() == pool.warm_target() && server_.accepted_count() >= pool.counters().refill_dials;
    });
  }

  // The server side of `client`, once the server has accepted it; nullptr if it never does.
  tcp::socket* await_server_side(const tcp::socket& client) {
    tcp::socket* peer = nullptr;
    run_until([&] { return (peer = server_.peer_of(client)) != nullptr; });
    return peer;
  }

  // Waits until segments already sent over loopback have been delivered: loopback delivers in order, so once a
  // FIN sent after them has arrived, so have they. Lets a test observe the kernel's view without running io_.
  void settle_loopback() {
    unit::SocketPair sentinel = unit::connected_pair(io_);
    sentinel.server.close();
    ASSERT_NE(unit::wait_for_events(sentinel.client, POLLRDHUP), 0) << "loopback never delivered a FIN";
  }

  unit::asio::io_context io_;
  unit::LoopbackServer server_{io_};
  balance::BackendPtr backend_ = backend_at(server_.endpoint());
  std::vector<std::pair<std::string, boost::system::error_code>> dial_failures_;
};

// ---- refill ---------------------------------------------------------------------------------------------

TEST_F(EndpointPoolTest, RefillOpensTwoWarmConnectionsByDefault) {
  auto pool = make_pool(settings_with_max(10));
  EXPECT_EQ(pool->warm_target(), 2u);
  pool->refill();
  pool->refill();  // a second call while the first dials are in flight adds nothing
  ASSERT_TRUE(run_until([&] { return pool->idle_count() == 2 && server_.accepted_count() == 2; }));
  run_for(100ms);
  EXPECT_EQ(pool->idle_count(), 2u);
  EXPECT_EQ(server_.accepted_count(), 2u);
  EXPECT_EQ(pool->counters().refill_dials, 2u);
  EXPECT_EQ(backend_->pooled.load(), 2);
  EXPECT_THAT(dial_failures_, IsEmpty());
}

TEST_F(EndpointPoolTest, RefillOpensOnlyOneWhenTheMaximumIsOne) {
  auto pool = make_pool(settings_with_max(1));
  EXPECT_EQ(pool->warm_target(), 1u);
  ASSERT_TRUE(warm_up(*pool));
  run_for(100ms);
  EXPECT_EQ(pool->idle_count(), 1u);
  EXPECT_EQ(server_.accepted_count(), 1u);
  EXPECT_EQ(backend_->pooled.load(), 1);
}

TEST_F(EndpointPoolTest, MaximumZeroNeverDials) {
  auto pool = make_pool(settings_with_max(0));
  EXPECT_EQ(pool->warm_target(), 0u);
  pool->refill();
  EXPECT_FALSE(take(*pool).has_value());
  EXPECT_FALSE(take(*pool).has_value());
  EXPECT_EQ(pool->warm_target(), 0u);
  run_for(200ms);
  EXPECT_EQ(server_.accepted_count(), 0u);
  EXPECT_EQ(pool->counters().refill_dials, 0u);
  EXPECT_EQ(pool->counters().misses, 2u);
  EXPECT_EQ(backend_->pooled.load(), 0);
}

TEST_F(EndpointPoolTest, InactiveBackendIsNotRefilled) {
  backend_->active = false;
  auto pool = make_pool();
  pool->refill();
  run_for(100ms);
  EXPECT_EQ(server_.accepted_count(), 0u);
  EXPECT_EQ(backend_->pooled.load(), 0);
}

TEST_F(EndpointPoolTest, FailedDialIsReportedAndGivesItsBudgetBack) {
  backend_ = backend_at(unit::refusing_endpoint(io_));
  auto pool = make_pool();
  pool->refill();
  ASSERT_TRUE(run_until([&] { return dial_failures_.size() == 2; }));
  EXPECT_EQ(dial_failures_[0].first, backend_->key);
  EXPECT_EQ(dial_failures_[0].second, boost::asio::error::connection_refused);
  EXPECT_EQ(pool->counters().refill_failures, 2u);
  EXPECT_EQ(pool->idle_count(), 0u);
  EXPECT_EQ(backend_->pooled.load(), 0);
}

TEST_F(EndpointPoolTest, TwoPoolsOfOneBackendShareItsBudget) {
  auto first = make_pool(settings_with_max(3));
  auto second = make_pool(settings_with_max(3));
  first->refill();
  second->refill();
  ASSERT_TRUE(run_until([&] { return first->idle_count() + second->idle_count() == 3; }));
  run_for(100ms);
  // Each pool alone would warm 2; together they stay within the backend's 3.
  EXPECT_EQ(first->idle_count() + second->idle_count(), 3u);
  EXPECT_EQ(server_.accepted_count(), 3u);
  EXPECT_EQ(backend_->pooled.load(), 3);

  // A hit frees a slot that a refill takes again: still no more than 3 idle between them.
  ASSERT_TRUE(take(*first).has_value());
  ASSERT_TRUE(run_until([&] { return first->idle_count() + second->idle_count() == 3; }));
  run_for(100ms);
  EXPECT_EQ(first->idle_count() + second->idle_count(), 3u);
  EXPECT_EQ(backend_->pooled.load(), 3);

  first->shutdown(false);
  second->shutdown(false);
  EXPECT_EQ(backend_->pooled.load(), 0);
}

// ---- acquire --------------------------------------------------------------------------------------------

TEST_F(EndpointPoolTest, HitReturnsAConnectedSocketAndStartsAReplacementDial) {
  auto pool = make_pool();
  ASSERT_TRUE(warm_up(*pool));

  std::optional<tcp::socket> socket = take(*pool);
  ASSERT_TRUE(socket.has_value());
  EXPECT_TRUE(socket->is_open());
  EXPECT_EQ(pool->counters().hits, 1u);
  EXPECT_EQ(pool->counters().misses, 0u);
  EXPECT_EQ(pool->idle_count(), 1u);
  // The replacement is dialed once the event loop turns, after the client that took the socket was served.
  EXPECT_EQ(pool->counters().refill_dials, 2u);
  ASSERT_TRUE(run_until([&] { return pool->counters().refill_dials == 3u; }));

  tcp::socket* server_side = await_server_side(*socket);
  ASSERT_NE(server_side, nullptr);
  unit::asio::write(*socket, unit::asio::buffer(std::string("ping")));
  EXPECT_EQ(unit::read_exactly(*server_side, 4), "ping");
  unit::asio::write(*server_side, unit::asio::buffer(std::string("pong")));
  EXPECT_EQ(unit::read_exactly(*socket, 4), "pong");

  ASSERT_TRUE(run_until([&] { return pool->idle_count() == 2 && server_.accepted_count() == 3; }));
  EXPECT_EQ(backend_->pooled.load(), 2);  // the taken socket no longer counts against the budget
}

TEST_F(EndpointPoolTest, EveryHitIsADistinctConnection) {
  auto pool = make_pool();
  ASSERT_TRUE(warm_up(*pool));
  std::optional<tcp::socket> first = take(*pool);
  std::optional<tcp::socket> second = take(*pool);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(unit::local_port(*first), unit::local_port(*second));
  EXPECT_EQ(pool->counters().hits, 2u);
}

TEST_F(EndpointPoolTest, MissRaisesTheWarmTargetByOneUpToTheMaximum) {
  auto pool = make_pool(settings_with_max(4));
  ASSERT_EQ(pool->warm_target(), 2u);

  EXPECT_FALSE(take(*pool).has_value());
  EXPECT_EQ(pool->warm_target(), 3u);
  EXPECT_FALSE(take(*pool).has_value());  // the dials the first miss asked for wait for the loop to turn
  EXPECT_EQ(pool->warm_target(), 4u);
  EXPECT_FALSE(take(*pool).has_value());
  EXPECT_EQ(pool->warm_target(), 4u);
  EXPECT_EQ(pool->counters().misses, 3u);

  ASSERT_TRUE(run_until([&] { return pool->idle_count() == 4; }));
  run_for(100ms);
  EXPECT_EQ(server_.accepted_count(), 4u);
  EXPECT_EQ(pool->counters().refill_dials, 4u);
}

// ---- connections whose backend closed them ---------------------------------------------------------------

enum class PeerEnd { fin, reset };

class PooledConnectionClosedByPeer : public EndpointPoolTest, public ::testing::WithParamInterface<PeerEnd> {
 protected:
  void end_every_server_side() {
    if (GetParam() == PeerEnd::fin) {
      server_.close_all();
    } else {
      server_.reset_all();
    }
  }
};

TEST_P(PooledConnectionClosedByPeer, IsEvictedWhileIdleAndNeverHandedOut) {
  auto pool = make_pool();
  ASSERT_TRUE(warm_up(*pool));
  const std::set<std::uint16_t> closed_ports = server_.open_client_ports();
  ASSERT_EQ(closed_ports.size(), 2u);

  end_every_server_side();
  ASSERT_TRUE(run_until([&] { return pool->counters().evicted_closed_by_peer == 2; }));

  // The pool refills with fresh connections; none of the dead ones may come back out.
  ASSERT_TRUE(run_until([&] { return pool->idle_count() == 2; }));
  for (int i = 0; i < 2; ++i) {
    std::optional<tcp::socket> socket = take(*pool);
    ASSERT_TRUE(socket.has_value());
    EXPECT_EQ(closed_ports.count(unit::local_port(*socket)), 0u) << "handed out a connection its peer closed";
    EXPECT_TRUE(is_alive(*socket));
  }
  EXPECT_EQ(pool->counters().evicted_closed_by_peer, 2u);
}

TEST_P(PooledConnectionClosedByPeer, IsSkippedByAcquireBeforeTheWatcherNoticed) {
  auto pool = make_pool();
  ASSERT_TRUE(warm_up(*pool));

  end_every_server_side();
  ASSERT_NO_FATAL_FAILURE(settle_loopback());
  // io_ has not run since: only acquire's own check can catch the dead connections.
  EXPECT_FALSE(take(*pool).has_value());
  EXPECT_EQ(pool->counters().evicted_closed_by_peer, 2u);
  EXPECT_EQ(pool->counters().hits, 0u);
  EXPECT_EQ(pool->counters().misses, 1u);
  EXPECT_EQ(pool->idle_count(), 0u);
}

INSTANTIATE_TEST_SUITE_P(FinOrReset, PooledConnectionClosedByPeer, ::testing::Values(PeerEnd::fin, PeerEnd::reset),
                         [](const ::testing::TestParamInfo<PeerEnd>& info) {
                           return info.param == PeerEnd::fin ? "Fin" : "Reset";
                         });

TEST_F(EndpointPoolTest, BackendClosingEveryConnectionAtOnceIsRedialedWithBackoffNotInAStorm) {
  server_.close_connections_at_once();
  auto pool = make_pool();
  pool->refill();
  ASSERT_TRUE(run_until([&] { return pool->counters().refill_dials >= 4; }));  // it does retry
  run_for(500ms);
  // Backoff from 200 ms: about 6 dials by now; without it, thousands.
  EXPECT_LE(pool->counters().refill_dials, 8u);
  EXPECT_GE(pool->counters().evicted_closed_by_peer, 2u);
}

// ---- backends that speak first ---------------------------------------------------------------------------

TEST_F(EndpointPoolTest, ConnectionWithABannerIsHandedOutWithTheBannerReadable) {
  const std::string banner = "220 backend ready\r\n";
  server_.greet_with(banner);
  auto pool = make_pool();
  ASSERT_TRUE(warm_up(*pool));
  run_for(100ms);  // the idle watcher sees the banner arrive; it must not take it for a close
  EXPECT_EQ(pool->idle_count(), 2u);
  EXPECT_EQ(pool->counters().evicted_closed_by_peer, 0u);

  std::optional<tcp::socket> socket = take(*pool);
  ASSERT_TRUE(socket.has_value());
  EXPECT_EQ(pool->counters().hits, 1u);
  EXPECT_EQ(unit::read_exactly(*socket, banner.size()), banner);
}

TEST_F(EndpointPoolTest, SweepEvictsABannerConnectionWhosePeerClosedLater) {
  server_.greet_with("hello\n");
  auto pool = make_pool();
  ASSERT_TRUE(warm_up(*pool));
  run_for(100ms);  // the watchers have seen the banners
  const std::set<std::uint16_t> closed_ports = server_.open_client_ports();

  server_.close_all();
  ASSERT_NO_FATAL_FAILURE(settle_loopback());
  pool->sweep();  // io_ has not run since the close: the sweep's own check must catch it
  EXPECT_EQ(pool->counters().evicted_closed_by_peer, 2u);
  EXPECT_EQ(pool->counters().evicted_idle, 0u);
  while (std::optional<tcp::socket> socket = take(*pool)) {
    EXPECT_EQ(closed_ports.count(unit::local_port(*socket)), 0u) << "handed out a connection its peer closed";
  }
}

// ---- sweep ----------------------------------------------------------------------------------------------

TEST_F(EndpointPoolTest, SweepExpiresIdleConnectionsAndLowersTheTargetNotBelowOne) {
  PoolSettings settings = settings_with_max(10);
  settings.max_idle = 1ns;
  auto pool = make_pool(settings);
  EXPECT_FALSE(take(*pool).has_value());  // a miss: target 3
  ASSERT_TRUE(run_until([&] { return pool->idle_count() == 3 && server_.accepted_count() == 3; }));
  ASSERT_NO_FATAL_FAILURE(wait_for_idle_clock_tick());

  pool->sweep();
  EXPECT_EQ(pool->counters().evicted_idle, 3u);
  EXPECT_EQ(pool->warm_target(), 1u);
  EXPECT_TRUE(server_.all_ended_by_client()) << "expired connections must be closed";

  // The sweep refills to the lowered target; expiring that one too keeps the target at 1.
  ASSERT_TRUE(run_until([&] { return pool->idle_count() == 1; }));
  ASSERT_NO_FATAL_FAILURE(wait_for_idle_clock_tick());
  pool->sweep();
  EXPECT_EQ(pool->counters().evicted_idle, 4u);
  EXPECT_EQ(pool->warm_target(), 1u);
  ASSERT_TRUE(run_until([&] { return pool->idle_count() == 1; }));
  EXPECT_EQ(backend_->pooled.load(), 1);
}

TEST_F(EndpointPoolTest, SweepKeepsConnectionsYoungerThanMaxIdle) {
  auto pool = make_pool();  // max_idle 5 minutes
  ASSERT_TRUE(warm_up(*pool));
  pool->sweep();
  run_for(50ms);
  EXPECT_EQ(pool->idle_count(), 2u);
  EXPECT_EQ(pool->warm_target(), 2u);
  EXPECT_EQ(pool->counters().evicted_idle, 0u);
  EXPECT_EQ(server_.accepted_count(), 2u);
}

// ---- release --------------------------------------------------------------------------------------------

TEST_F(EndpointPoolTest, ReleaseForDiscardClosesTheConnection) {
  auto pool = make_pool();
  ASSERT_TRUE(warm_up(*pool));
  std::optional<tcp::socket> socket = take(*pool);
  ASSERT_TRUE(socket.has_value());
  tcp::socket* server_side = await_server_side(*socket);
  ASSERT_NE(server_side, nullptr);

  pool->release(std::move(*socket), Reuse::discard);
  EXPECT_TRUE(unit::sees_end_of_stream(*server_side));
  ASSERT_TRUE(run_until([&] { return pool->idle_count() == 2; }));  // just the replacement
  run_for(50ms);
  EXPECT_EQ(pool->idle_count(), 2u);
  EXPECT_EQ(backend_->pooled.load(), 2);
}

TEST_F(EndpointPoolTest, ReleaseForReuseKeepsALiveConnectionWhileTheBudgetHasRoom) {
  auto pool = make_pool();
  unit::SocketPair connection = unit::connected_pair(io_);
  const std::uint16_t port = unit::local_port(connection.client);

  pool->release(std::move(connection.client), Reuse::reusable);
  EXPECT_EQ(pool->idle_count(), 1u);
  EXPECT_EQ(backend_->pooled.load(), 1);

  std::optional<tcp::socket> again = take(*pool);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(unit::local_port(*again), port);
}

TEST_F(EndpointPoolTest, ReleaseForReuseClosesTheConnectionWhenThePoolIsFull) {
  auto pool = make_pool(settings_with_max(2));
  ASSERT_TRUE(warm_up(*pool));
  unit::SocketPair connection = unit::connected_pair(io_);

  pool->release(std::move(connection.client), Reuse::reusable);
  EXPECT_TRUE(unit::sees_end_of_stream(connection.server));
  EXPECT_EQ(pool->idle_count(), 2u);
  EXPECT_EQ(backend_->pooled.load(), 2);
}

TEST_F(EndpointPoolTest, ReleaseForReuseClosesAConnectionItsPeerClosed) {
  auto pool = make_pool();
  unit::SocketPair connection = unit::connected_pair(io_);
  connection.server.close();
  ASSERT_NE(unit::wait_for_events(connection.client, POLLRDHUP), 0);

  pool->release(std::move(connection.client), Reuse::reusable);
  EXPECT_EQ(pool->idle_count(), 0u);
  EXPECT_EQ(backend_->pooled.load(), 0);
}

TEST_F(EndpointPoolTest, WithoutReplaceTakenAHitStartsNoDialAndTheReleasedConnectionComesBack) {
  PoolSettings settings = settings_with_max(10);
  settings.replace_taken = false;
  auto pool = make_pool(settings);
  ASSERT_TRUE(warm_up(*pool));
  Checkout checkout;
  std::optional<tcp::socket> socket = take(*pool, &checkout);
  ASSERT_TRUE(socket.has_value());
  EXPECT_TRUE(checkout.from_pool);
  EXPECT_FALSE(checkout.used_before);
  const std::uint16_t port = unit::local_port(*socket);
  run_for(50ms);
  EXPECT_EQ(server_.accepted_count(), 2u);  // no replacement dial
  EXPECT_EQ(pool->idle_count(), 1u);
  EXPECT_EQ(backend_->pooled.load(), 2);  // the lent socket keeps its slot

  pool->release(std::move(*socket), Reuse::reusable, checkout);
  EXPECT_EQ(pool->idle_count(), 2u);
  EXPECT_EQ(backend_->pooled.load(), 2);
  std::optional<tcp::socket> first = take(*pool);
  std::optional<tcp::socket> second = take(*pool);
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(unit::local_port(*second), port);  // oldest first: the returned one is last in line
}

TEST_F(EndpointPoolTest, WithoutReplaceTakenTheCapCountsLentConnectionsAndAMissDialsNothing) {
  PoolSettings settings = settings_with_max(2);
  settings.replace_taken = false;
  auto pool = make_pool(settings);
  ASSERT_TRUE(warm_up(*pool));
  Checkout first_checkout, second_checkout;
  std::optional<tcp::socket> first = take(*pool, &first_checkout);
  std::optional<tcp::socket> second = take(*pool, &second_checkout);
  ASSERT_TRUE(first.has_value() && second.has_value());

  EXPECT_FALSE(take(*pool).has_value());
  run_for(50ms);
  EXPECT_EQ(server_.accepted_count(), 2u) << "a miss dialed although both slots are lent";
  EXPECT_EQ(pool->warm_target(), 2u);

  // A connection the caller dialed itself finds no room while both lent ones may come back.
  unit::SocketPair own = unit::connected_pair(io_);
  pool->release(std::move(own.client), Reuse::reusable);
  EXPECT_TRUE(unit::sees_end_of_stream(own.server));
  EXPECT_EQ(backend_->pooled.load(), 2);

  // Discarding a lent connection frees its slot; returning the other keeps it, and it is marked as used.
  pool->release(std::move(*first), Reuse::discard, first_checkout);
  EXPECT_EQ(backend_->pooled.load(), 1);
  pool->release(std::move(*second), Reuse::reusable, second_checkout);
  EXPECT_EQ(backend_->pooled.load(), 1);
  Checkout again;
  ASSERT_TRUE(take(*pool, &again).has_value());
  EXPECT_TRUE(again.used_before);
}

TEST_F(EndpointPoolTest, KeepAliveSettingsHandOutTheNewestAndWatchAGivenBackConnectionOnceItSettles) {
  auto pool = make_pool(keep_alive_settings(settings_with_max(4)));
  unit::SocketPair older = unit::connected_pair(io_);
  unit::SocketPair newer = unit::connected_pair(io_);
  const std::uint16_t newer_port = unit::local_port(newer.client);
  pool->release(std::move(older.client), Reuse::reusable);
  pool->release(std::move(newer.client), Reuse::reusable);

  Checkout checkout;
  std::optional<tcp::socket> taken = take(*pool, &checkout);
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(unit::local_port(*taken), newer_port) << "the most recently returned connection comes first";
  pool->release(std::move(*taken), Reuse::reusable, checkout);

  // The backend closes the older one while it idles: noticed once the lazy watcher is armed, not sooner.
  older.server.close();
  ASSERT_TRUE(run_until([&] { return pool->counters().evicted_closed_by_peer == 1u; }))
      << "a closed idle connection was never noticed";
  EXPECT_EQ(pool->idle_count(), 1u);
}

TEST_F(EndpointPoolTest, WhetherAGivenBackConnectionWasLeftDrainedComesBackWithIt) {
  auto pool = make_pool(keep_alive_settings(settings_with_max(4)));
  unit::SocketPair drained = unit::connected_pair(io_);
  unit::SocketPair undrained = unit::connected_pair(io_);
  const std::uint16_t drained_port = unit::local_port(drained.client);
  pool->release(std::move(drained.client), Reuse::reusable, Checkout{false, false, /*drained=*/true});
  pool->release(std::move(undrained.client), Reuse::reusable, Checkout{false, false, /*drained=*/false});

  Checkout newest, oldest;
  std::optional<tcp::socket> first = take(*pool, &newest);
  std::optional<tcp::socket> second = take(*pool, &oldest);
  ASSERT_TRUE(first.has_value() && second.has_value());
  ASSERT_EQ(unit::local_port(*second), drained_port);
  EXPECT_FALSE(newest.drained);
  EXPECT_TRUE(oldest.drained);
  // A record reused for another connection forgets the mark.
  pool->release(std::move(*second), Reuse::reusable, Checkout{true, true, /*drained=*/false});
  Checkout again;
  ASSERT_TRUE(take(*pool, &again).has_value());
  EXPECT_FALSE(again.drained);
}

TEST_F(EndpointPoolTest, IdleBytesAreGarbageEvictsAConnectionThatSpeaksUnasked) {
  PoolSettings settings = settings_with_max(1);
  settings.replace_taken = false;
  settings.idle_bytes_are_garbage = true;
  auto pool = make_pool(settings);
  unit::SocketPair connection = unit::connected_pair(io_);
  pool->release(std::move(connection.client), Reuse::reusable);
  ASSERT_EQ(pool->idle_count(), 1u);

  boost::asio::write(connection.server, boost::asio::buffer(std::string_view("HTTP/1.1 408 Request Timeout\r\n\r\n")));
  // Evicted (and replaced by a fresh dial, which is why the idle count is no witness).
  ASSERT_TRUE(run_until([&] { return pool->counters().evicted_closed_by_peer == 1u; }))
      << "a connection with unasked bytes stayed idle";
  EXPECT_TRUE(unit::sees_end_of_stream(connection.server));
}

// ---- shutdown -------------------------------------------------------------------------------------------

TEST_F(EndpointPoolTest, ShutdownForRemovedEndpointClosesEveryIdleConnectionAndCountsThem) {
  auto pool = make_pool();
  ASSERT_TRUE(warm_up(*pool));

  pool->shutdown(true);
  EXPECT_EQ(pool->idle_count(), 0u);
  EXPECT_EQ(pool->counters().evicted_endpoint_removed, 2u);
  EXPECT_EQ(backend_->pooled.load(), 0);
  EXPECT_TRUE(server_.all_ended_by_client());

  // A closed pool neither refills nor hands anything out.
  pool->refill();
  EXPECT_FALSE(take(*pool).has_value());
  run_for(100ms);
  EXPECT_EQ(server_.accepted_count(), 2u);
  EXPECT_EQ(pool->idle_count(), 0u);
}

TEST_F(EndpointPoolTest, ShutdownOnStopClosesEverythingWithoutCountingARemoval) {
  auto pool = make_pool();
  ASSERT_TRUE(warm_up(*pool));
  pool->shutdown(false);
  EXPECT_EQ(pool->idle_count(), 0u);
  EXPECT_EQ(pool->counters().evicted_endpoint_removed, 0u);
  EXPECT_EQ(backend_->pooled.load(), 0);
  EXPECT_TRUE(server_.all_ended_by_client());
}

}  // namespace
}  // namespace poolgate::pool

#include "poolgate/pool/endpoint_pool.hpp"

#include "poolgate/pool/dialer.hpp"
#include "poolgate/pool/liveness.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <ctime>

namespace poolgate::pool {
namespace {

// A connection the backend closes sooner than this after the dial counts as an early close.
constexpr auto kEarlyCloseAge = std::chrono::seconds(1);
constexpr auto kFirstRefillDelay = std::chrono::milliseconds(100);
// watch_lazily, watch_fresh_lazily: how long a connection stays unwatched. A backend's keep-alive timeout is
// seconds at the least, so it cannot close a given-back connection in this window unless it is going away, and
// then the request that meets the closed connection is retried (idempotent) or answered 502, as in haproxy and
// nginx. A fresh connection (TCP mode) closed in the window is caught by the poll at hand-out.
constexpr auto kLazyWatchDelay = std::chrono::milliseconds(200);
// Records kept for reuse; a pool rarely holds more connections than this at once.
constexpr std::size_t kMaxSpareRecords = 64;

}  // namespace

IdleClock::time_point IdleClock::now() noexcept {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return time_point(std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec));
}

PoolSettings keep_alive_settings(PoolSettings base) {
  base.replace_taken = false;
  base.idle_bytes_are_garbage = true;
  base.poll_on_handout = false;
  base.watch_lazily = true;
  base.watch_fresh_lazily = false;
  base.newest_first = true;
  return base;
}

struct EndpointPool::IdleConnection {
  explicit IdleConnection(boost::asio::ip::tcp::socket&& s) : socket(std::move(s)) {}
  // A spare record taking a new connection: as if constructed afresh.
  void hold(boost::asio::ip::tcp::socket&& s) {
    socket = std::move(s);
    connected_at = idle_since = IdleClock::now();
    in_pool = true;
    used = false;
    drained = false;
    watching = false;
  }
  boost::asio::ip::tcp::socket socket;
  IdleClock::time_point connected_at = IdleClock::now();
  IdleClock::time_point idle_since = connected_at;
  bool in_pool = true;   // false once taken or evicted: a late watcher completion must then do nothing
  bool used = false;     // came back through release(): it has served requests before
  bool drained = false;  // Checkout::drained, as release() was told
  bool watching = false;
};

EndpointPool::EndpointPool(boost::asio::any_io_executor executor, balance::BackendPtr backend,
                           PoolSettings settings, DialFailureHandler on_dial_failure,
                           std::shared_ptr<PoolCounters> counters)
    : executor_(std::move(executor)),
      backend_(std::move(backend)),
      settings_(settings),
      on_dial_failure_(std::move(on_dial_failure)),
      target_(std::min(2u, settings.max_per_endpoint)),
      refill_timer_(executor_),
      lazy_watch_timer_(executor_),
      counters_holder_(counters ? std::move(counters) : std::make_shared<PoolCounters>()),
      counters_(*counters_holder_) {}

EndpointPool::~EndpointPool() { shutdown(false); }

bool EndpointPool::usable_now(boost::asio::ip::tcp::socket& socket) const {
  return settings_.idle_bytes_are_garbage ? is_quiet(socket) : is_alive(socket);
}

bool EndpointPool::acquire(boost::asio::ip::tcp::socket& into, Checkout* checkout) {
  while (!idle_.empty()) {
    IdleConnectionPtr connection;
    if (settings_.newest_first) {
      connection = std::move(idle_.back());
      idle_.pop_back();
    } else {
      connection = std::move(idle_.front());
      idle_.pop_front();
    }
    counters_.idle.set(static_cast<std::int64_t>(idle_.size()));
    connection->in_pool = false;
    boost::system::error_code ignored;
    // The idle watcher must not outlive the pool's ownership.
    if (connection->watching) connection->socket.cancel(ignored);
    // The watcher may not have run yet for a close that already arrived: check the socket itself.
    if (settings_.poll_on_handout && !usable_now(connection->socket)) {
      backend_->release_pool_slot();
      ++counters_.evicted_closed_by_peer;
      connection->socket.close(ignored);
      continue;
    }
    ++counters_.hits;
    early_closes_ = 0;
    if (checkout) *checkout = Checkout{true, connection->used, connection->drained};
    if (settings_.replace_taken) {
      backend_->release_pool_slot();
      refill_soon();
    } else {
      ++lent_;
    }
    into = std::move(connection->socket);
    recycle(std::move(connection));
    return true;
  }
  ++counters_.misses;
  if (settings_.replace_taken) {
    if (target_ < settings_.max_per_endpoint) ++target_;
    refill_soon();
  }
  return false;
}

void EndpointPool::release(boost::asio::ip::tcp::socket&& socket, Reuse reuse, Checkout checkout) {
  const bool holds_slot = checkout.from_pool && !settings_.replace_taken;
  if (holds_slot) --lent_;
  if (reuse == Reuse::reusable && !closed_ && (!settings_.poll_on_handout || usable_now(socket)) &&
      (holds_slot || backend_->try_reserve_pool_slot(static_cast<int>(settings_.max_per_endpoint)))) {
    adopt(std::move(socket), true, checkout.drained);
    return;
  }
  if (holds_slot) backend_->release_pool_slot();
  boost::system::error_code ignored;
  socket.close(ignored);
}

void EndpointPool::refill() {
  if (closed_ || refill_scheduled_ || !backend_->active.load(std::memory_order_relaxed)) return;
  const int budget = static_cast<int>(settings_.max_per_endpoint);
  // The deficit is counted once: a dial that fails before its first suspension (no descriptors) has already
  // given its slot back, and re-testing the condition would start it again, forever.
  const std::size_t have = idle_.size() + dialing_ + lent_;
  for (std::size_t missing = target_ > have ? target_ - have : 0; missing > 0; --missing) {
    if (!backend_->try_reserve_pool_slot(budget)) break;
    start_dial();
    // A dial can fail before it returns: a refused loopback connect (the endpoint is then down), or no
    // descriptors left (a later refill is then scheduled).
    if (refill_scheduled_ || !backend_->active.load(std::memory_order_relaxed)) break;
  }
}

void EndpointPool::refill_soon() {
  if (refill_posted_ || closed_) return;
  refill_posted_ = true;
  boost::asio::post(executor_, [weak_self = weak_from_this()] {
    if (auto self = weak_self.lock()) {
      self->refill_posted_ = false;
      self->refill();
    }
  });
}

void EndpointPool::start_dial() {
  ++dialing_;
  ++counters_.refill_dials;
  const auto started = Clock::now();
  boost::asio::ip::tcp::socket socket(executor_);
  const DialStart start = begin_dial(socket, backend_->address);
  if (start.error || start.connected) {
    dial_finished(std::move(socket), start.error, started);
    return;
  }
  boost::asio::co_spawn(
      executor_,
      [self = shared_from_this(), socket = std::move(socket), started]() mutable -> boost::asio::awaitable<void> {
        const boost::system::error_code ec = co_await finish_dial(socket, self->settings_.connect_timeout);
        self->dial_finished(std::move(socket), ec, started);
      },
      boost::asio::detached);
}

void EndpointPool::dial_finished(boost::asio::ip::tcp::socket socket, const boost::system::error_code& ec,
                                 Clock::time_point started) {
  if (!ec) counters_.connect_duration.observe(Clock::now() - started);
  --dialing_;
  if (closed_ || ec) {
    backend_->release_pool_slot();
    if (ec && !closed_) {
      ++counters_.refill_failures;
      if (is_local_resource_exhaustion(ec)) {
        refill_later();  // our problem, not the backend's: try again when descriptors may be free
      } else {
        on_dial_failure_(backend_, ec);
      }
    }
    return;
  }
  adopt(std::move(socket), false);
}

void EndpointPool::recycle(IdleConnectionPtr&& connection) {
  // A cancelled watcher's handler may still hold a copy and must find in_pool false when it runs.
  if (connection.use_count() != 1 || spare_.size() >= kMaxSpareRecords) return;
  spare_.push_back(std::move(connection));
}

void EndpointPool::adopt(boost::asio::ip::tcp::socket&& socket, bool used, bool drained) {
  IdleConnectionPtr connection;
  if (spare_.empty()) {
    connection = std::make_shared<IdleConnection>(std::move(socket));
  } else {
    connection = std::move(spare_.back());
    spare_.pop_back();
    connection->hold(std::move(socket));
  }
  connection->used = used;
  connection->drained = drained;
  idle_.push_back(std::move(connection));
  counters_.idle.set(static_cast<std::int64_t>(idle_.size()));
  if (used ? settings_.watch_lazily : settings_.watch_fresh_lazily) {
    schedule_lazy_watch();
  } else {
    watch(idle_.back());
  }
}

void EndpointPool::schedule_lazy_watch() {
  if (lazy_watch_scheduled_ || closed_) return;
  lazy_watch_scheduled_ = true;
  lazy_watch_timer_.expires_after(kLazyWatchDelay);
  std::weak_ptr<EndpointPool> weak_self = weak_from_this();
  lazy_watch_timer_.async_wait([weak_self](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto self = weak_self.lock()) {
      self->lazy_watch_scheduled_ = false;
      self->watch_the_settled();
    }
  });
}

void EndpointPool::watch_the_settled() {
  const auto settled_before = IdleClock::now() - kLazyWatchDelay / 2;
  bool unsettled = false;
  for (const IdleConnectionPtr& connection : idle_) {
    if (connection->watching) continue;
    if (connection->idle_since <= settled_before) {
      watch(connection);
    } else {
      unsettled = true;
    }
  }
  if (unsettled) schedule_lazy_watch();
}

void EndpointPool::watch(const IdleConnectionPtr& connection) {
  connection->watching = true;
  std::weak_ptr<EndpointPool> weak_self = weak_from_this();
  connection->socket.async_wait(
      boost::asio::ip::tcp::socket::wait_read,
      [weak_self, connection](const boost::system::error_code& ec) {
        connection->watching = false;
        if (ec || !connection->in_pool) return;
        if (auto self = weak_self.lock()) self->on_watch_event(connection);
      });
}

void EndpointPool::on_watch_event(const IdleConnectionPtr& connection) {
  if (settings_.idle_bytes_are_garbage && is_alive(connection->socket)) {
    evict(connection, counters_.evicted_closed_by_peer);
    refill();
    return;
  }
  if (is_alive(connection->socket)) {
    // The backend spoke first (a banner). Its bytes stay queued for the client that takes this socket; the
    // socket is no longer watched (readiness would now fire at once, forever), but acquire() and sweep()
    // still check it before trusting it.
    return;
  }
  const auto age = IdleClock::now() - connection->connected_at;
  evict(connection, counters_.evicted_closed_by_peer);
  schedule_refill_after_early_close(age);
}

void EndpointPool::schedule_refill_after_early_close(Clock::duration age) {
  if (age >= kEarlyCloseAge) {
    early_closes_ = 0;
    refill();
    return;
  }
  refill_later();
}

void EndpointPool::refill_later() {
  if (refill_scheduled_ || closed_) return;
  auto delay = std::chrono::duration_cast<Clock::duration>(kFirstRefillDelay) * (1u << std::min(early_closes_, 10u));
  ++early_closes_;
  delay = std::min<Clock::duration>(delay, settings_.max_refill_backoff);
  refill_scheduled_ = true;
  refill_timer_.expires_after(delay);
  std::weak_ptr<EndpointPool> weak_self = weak_from_this();
  refill_timer_.async_wait([weak_self](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto self = weak_self.lock()) {
      self->refill_scheduled_ = false;
      self->refill();
    }
  });
}

void EndpointPool::evict(const IdleConnectionPtr& connection, admin::LocalCounter& reason_counter) {
  auto it = std::find(idle_.begin(), idle_.end(), connection);
  if (it == idle_.end()) return;
  idle_.erase(it);
  counters_.idle.set(static_cast<std::int64_t>(idle_.size()));
  connection->in_pool = false;
  backend_->release_pool_slot();
  boost::system::error_code ignored;
  connection->socket.close(ignored);
  ++reason_counter;
}

void EndpointPool::sweep() {
  const auto now = IdleClock::now();
  // Copy: evict() edits idle_.
  const std::vector<IdleConnectionPtr> snapshot(idle_.begin(), idle_.end());
  for (const IdleConnectionPtr& connection : snapshot) {
    if (now - connection->idle_since >= settings_.max_idle) {
      evict(connection, counters_.evicted_idle);
      if (target_ > 1) --target_;
    } else if (!usable_now(connection->socket)) {
      evict(connection, counters_.evicted_closed_by_peer);
    }
  }
  refill();
}

void EndpointPool::shutdown(bool endpoint_removed) {
  if (closed_) return;
  closed_ = true;
  spare_.clear();
  refill_timer_.cancel();
  lazy_watch_timer_.cancel();
  const std::vector<IdleConnectionPtr> snapshot(idle_.begin(), idle_.end());
  for (const IdleConnectionPtr& connection : snapshot) {
    admin::LocalCounter ignored_count;
    evict(connection, endpoint_removed ? counters_.evicted_endpoint_removed : ignored_count);
  }
}

}  // namespace poolgate::pool

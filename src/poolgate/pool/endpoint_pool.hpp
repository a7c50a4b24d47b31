// The warm pool of one backend on one worker thread: connected, never-used sockets handed to clients at once,
// watched while idle, expired when unused, refilled off the client's path. Not thread-safe by design: each
// worker owns its pools; the only cross-thread state is the backend's atomic budget.
#pragma once

#include "poolgate/admin/counters.hpp"
#include "poolgate/balance/backend.hpp"
#include "poolgate/config/duration.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <deque>
#include <vector>

namespace poolgate::pool {

struct PoolSettings {
  unsigned max_per_endpoint = 10;  // idle cap across all threads; 0 = no pooling
  config::Duration max_idle = std::chrono::minutes(5);
  config::Duration connect_timeout = std::chrono::seconds(10);
  config::Duration max_refill_backoff = std::chrono::minutes(1);
  // TCP mode: a taken socket never comes back, so each hit starts a replacement dial at once and a miss grows
  // the warm target. HTTP mode turns this off: a taken socket keeps its budget slot while lent (the cap then
  // counts connections in use too), comes back through release(), and a miss's own dial joins the pool there.
  bool replace_taken = true;
  // HTTP mode: an idle connection with bytes queued is broken (no request was sent, so nothing may arrive),
  // never a banner to keep for the client.
  bool idle_bytes_are_garbage = false;
  // Whether acquire() and release() poll each socket before trusting it. The idle watcher already sees a close
  // once the event loop turns; the poll also catches one that arrived in the same turn. TCP mode needs that:
  // a client's first bytes (a TLS hello) cannot be sent twice. HTTP mode retries an idempotent request on a
  // fresh connection instead, like haproxy and nginx, and saves two syscalls per request.
  bool poll_on_handout = true;
  // HTTP mode: a connection given back is usually taken again within microseconds, so it is watched only once
  // it has stayed idle a while (arming a watcher costs an epoll_ctl), and the newest is handed out first so
  // the busy ones stay warm and the rest can expire.
  bool watch_lazily = false;
  // TCP mode: under load a fresh connection is taken within milliseconds of its dial, so its watcher too is
  // armed only once it has stayed idle a while. poll_on_handout still keeps one that the backend closed in the
  // meantime from ever reaching a client. (HTTP mode watches fresh connections at once: it has no such poll.)
  bool watch_fresh_lazily = true;
  bool newest_first = false;
};

// The clock of idle connections' timestamps. Milliseconds are plenty (idle limits are seconds, the lazy watch
// 200 ms), and one is read for every connection given back: CLOCK_MONOTONIC_COARSE returns the last tick (a
// few ns; it moves every 1-10 ms), where steady_clock reads the TSC (about 35 ns on this VM, a third of a warm
// acquire + release).
struct IdleClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<IdleClock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept;
};

// The settings of HTTP mode's keep-alive pool, on top of `base`'s limits and timeouts.
PoolSettings keep_alive_settings(PoolSettings base);

// Written only by the pool's own worker thread, read by the admin thread at scrape time (see admin/counters.hpp).
// The worker keeps one per endpoint and hands it to each pool it makes for that endpoint, so the totals outlive
// a pool that is shut down when its endpoint leaves the set.
struct PoolCounters {
  admin::LocalCounter hits;
  admin::LocalCounter misses;
  admin::LocalCounter evicted_idle;
  admin::LocalCounter evicted_closed_by_peer;
  admin::LocalCounter evicted_endpoint_removed;
  admin::LocalCounter refill_dials;
  admin::LocalCounter refill_failures;
  admin::LocalGauge idle;                 // mirror of idle_count() for other threads
  admin::LocalHistogram connect_duration;  // successful refill dials
};

// Where a socket handed out by acquire() came from, to be given back to release() with it.
struct Checkout {
  bool from_pool = false;    // an acquire() hit (HTTP mode: it still holds its budget slot)
  bool used_before = false;  // it had come back through release() after serving earlier requests
  // Its last reader left it provably empty (relay::SocketReader::proven_empty): the next read may go straight to
  // waiting. Set by the caller before release(); kept with the idle connection and handed out with it.
  bool drained = false;
};

// What the caller may do with a connection it is done with. TCP mode always discards: a socket that carried
// one client's bytes (a TLS session) must never reach another client.
enum class Reuse { discard, reusable };

class EndpointPool : public std::enable_shared_from_this<EndpointPool> {
 public:
  using DialFailureHandler = std::function<void(const balance::BackendPtr&, const boost::system::error_code&)>;
  using Clock = std::chrono::steady_clock;

  // `counters`: where to count (shared with the caller, who may outlive the pool); null: the pool's own.
  EndpointPool(boost::asio::any_io_executor executor, balance::BackendPtr backend, PoolSettings settings,
               DialFailureHandler on_dial_failure, std::shared_ptr<PoolCounters> counters = nullptr);
  ~EndpointPool();
  EndpointPool(const EndpointPool&) = delete;
  EndpointPool& operator=(const EndpointPool&) = delete;

  // A hit: true, a live socket moved into `into` (and, when replace_taken, a replacement dial starts once the
  // event loop turns). A miss (nothing warm): false, and with replace_taken the warm target grows by one so the
  // next burst finds more. `checkout`, when given, is filled in for release(). (An out-parameter, not an
  // optional: a socket move costs an executor copy, and this is the hot path.)
  bool acquire(boost::asio::ip::tcp::socket& into, Checkout* checkout = nullptr);

  // Hands a connection back, with the Checkout acquire() gave (default: a socket the caller dialed itself).
  // Only Reuse::reusable connections (HTTP mode, response ended cleanly) may return to the idle set, while
  // the cross-thread budget has room; everything else is closed.
  void release(boost::asio::ip::tcp::socket&& socket, Reuse reuse, Checkout checkout = {});

  // Starts dials until idle + dialing reaches the warm target (within the cross-thread budget).
  void refill();

  // Closes connections idle longer than max_idle (each lowers the target by one, not below 1) and any
  // found dead, then refills.
  void sweep();

  // Closes every idle connection and stops refilling: the endpoint left the set, or poolgate is stopping.
  void shutdown(bool endpoint_removed);

  const balance::Backend& backend() const { return *backend_; }
  const balance::BackendPtr& backend_ptr() const { return backend_; }
  std::size_t idle_count() const { return idle_.size(); }
  unsigned warm_target() const { return target_; }
  const PoolCounters& counters() const { return counters_; }

 private:
  struct IdleConnection;
  using IdleConnectionPtr = std::shared_ptr<IdleConnection>;

  void adopt(boost::asio::ip::tcp::socket&& socket, bool used, bool drained = false);
  // Keeps a record taken out of idle_ for the next adopt(), unless a watcher's handler still holds it.
  void recycle(IdleConnectionPtr&& connection);
  bool usable_now(boost::asio::ip::tcp::socket& socket) const;
  void watch(const IdleConnectionPtr& connection);
  void schedule_lazy_watch();
  void watch_the_settled();
  void on_watch_event(const IdleConnectionPtr& connection);
  void evict(const IdleConnectionPtr& connection, admin::LocalCounter& reason_counter);
  void schedule_refill_after_early_close(Clock::duration age);
  // Refills once the event loop turns: the client that took a connection (or missed) is served first, and the
  // replacement dial happens while it waits for its backend's answer, not before its first byte is sent.
  void refill_soon();
  // Refills after a delay that doubles with each call since the last success (early closes, local exhaustion).
  void refill_later();
  void start_dial();
  void dial_finished(boost::asio::ip::tcp::socket socket, const boost::system::error_code& ec,
                     Clock::time_point started);

  boost::asio::any_io_executor executor_;
  balance::BackendPtr backend_;
  PoolSettings settings_;
  DialFailureHandler on_dial_failure_;
  // Oldest first: servers that accept and serve one connection at a time (iperf3, many simple daemons) are
  // waiting on the connection they accepted first, so that is the one a client must get.
  std::deque<IdleConnectionPtr> idle_;
  // Records no one else holds, so that a connection given back (HTTP mode, every request) usually costs no
  // allocation: a record whose watcher was armed is left to that watcher's handler and freed with it.
  std::vector<IdleConnectionPtr> spare_;
  unsigned target_;
  unsigned dialing_ = 0;
  unsigned lent_ = 0;  // HTTP mode: handed out, holding budget slots, not yet released
  bool closed_ = false;
  // Backend that closes fresh connections at once: refill with growing delays instead of a dial storm.
  unsigned early_closes_ = 0;
  boost::asio::steady_timer refill_timer_;
  bool refill_scheduled_ = false;
  bool refill_posted_ = false;
  boost::asio::steady_timer lazy_watch_timer_;
  bool lazy_watch_scheduled_ = false;
  std::shared_ptr<PoolCounters> counters_holder_;
  PoolCounters& counters_;
};

}  // namespace poolgate::pool

#include "poolgate/server/worker.hpp"

#include "poolgate/http/client_session.hpp"
#include "poolgate/pool/dialer.hpp"
#include "poolgate/server/event_loop.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <pthread.h>

#include <algorithm>

namespace poolgate::server {
namespace {

using boost::asio::ip::tcp;
constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
// How often the byte counts of open connections are published for /metrics.
constexpr auto kBytesPublishInterval = std::chrono::seconds(1);

// Gives a --max-connections slot back when the client's connection ends, however it ends.
class SlotRelease {
 public:
  explicit SlotRelease(ConnectionLimit& limit) : limit_(limit.enabled() ? &limit : nullptr) {}
  ~SlotRelease() {
    if (limit_) limit_->release();
  }
  SlotRelease(const SlotRelease&) = delete;
  SlotRelease& operator=(const SlotRelease&) = delete;

 private:
  ConnectionLimit* limit_;
};

}  // namespace

// One client and its backend for as long as the relay runs. The worker keeps a pointer so it can close the pair
// on drain or endpoint removal.
struct Worker::Session {
  Session(tcp::socket c, const tcp::endpoint& p) : client(std::move(c)), peer(p), backend(client.get_executor()) {}
  void close() {
    boost::system::error_code ignored;
    client.close(ignored);
    backend.close(ignored);
  }
  http::SessionSockets http_sockets() { return {client, peer, backend, target, bytes, drain}; }
  tcp::socket client;
  tcp::endpoint peer;  // the client's address, as accept returned it
  tcp::socket backend;
  balance::BackendPtr target;
  relay::RelayTotals bytes;    // moved so far, written by the relay
  relay::RelayTotals counted;  // the part of `bytes` already added to the worker's byte counters
  http::DrainState drain;      // HTTP mode
};

// A client's connection: its --max-connections slot and its session. Owned by serve() until a TCP relay starts,
// then by the relay's two directions, so that an idle relayed connection costs no coroutine frame of its own.
struct Worker::Connection {
  Connection(ConnectionLimit& limit, tcp::socket client, const tcp::endpoint& peer)
      : slot(limit), session(std::move(client), peer) {}
  SlotRelease slot;  // first, so it is destroyed last: the slot stays taken until the sockets are closed
  Session session;
};

Worker::Worker(unsigned index, const config::Options& options, balance::HealthMonitor& health,
               ConnectionLimit& limit)
    : index_(index),
      options_(options),
      http_mode_(options.mode == "http"),
      health_(health),
      limit_(limit),
      pipes_(relay::pipes_kept_per_thread(options.threads), relay::pipes_allowed_per_thread(options.threads)),
      context_(1),
      work_guard_(context_.get_executor()),
      sweep_timer_(context_),
      accept_pause_timer_(context_),
      slot_wait_timer_(context_),
      bytes_timer_(context_) {
  if (limit_.enabled()) limit_.add_waker([this] { wake_if_waiting_for_slot(); });
}

Worker::~Worker() {
  for (auto& [backend, pool] : pools_) pool->shutdown(false);
}

void Worker::adopt_listener(tcp::acceptor acceptor) {
  acceptor_ = std::make_unique<tcp::acceptor>(std::move(acceptor));
}

void Worker::run() {
  // Named for top -H, perf and the tests that look at one worker's state in /proc.
  ::pthread_setname_np(::pthread_self(), ("worker " + std::to_string(index_)).c_str());
  run_event_loop(context_, stats_.http_requests_in_flight,
                 http_mode_ ? options_.http_coalesce_wait : config::Duration::zero());
}

void Worker::stop() {
  work_guard_.reset();
  context_.stop();
}

boost::asio::awaitable<void> Worker::serve(tcp::socket client, tcp::endpoint peer) {
  auto connection = std::make_shared<Connection>(limit_, std::move(client), peer);
  Session& session = connection->session;
  if (http_mode_) {
    co_await serve_http(session);
    co_return;
  }
  session.target = co_await connect_backend(session.backend, session.client);
  if (!session.target) {
    session.close();
    co_return;
  }
  const SessionList::iterator registration = enlist(session);
  admin::LocalGauge& endpoint_active = stats_.endpoint(session.target->key).active;
  endpoint_active.add(1);
  auto end_of_relay = [this, &session, registration, &endpoint_active] {
    delist(registration);
    endpoint_active.add(-1);
    // The connection carried this client's bytes, so it never goes back to the pool.
    if (pool::EndpointPool* pool = pool_for(*session.target)) {
      pool->release(std::move(session.backend), pool::Reuse::discard);
    }
  };
  // This coroutine ends here; the relay keeps the connection.
  try {
    relay::spawn_relay(connection, session.client, session.backend, pipes_, session.bytes, end_of_relay);
  } catch (...) {
    // Out of memory part-way: a direction already started never sees its partner end, so end_of_relay would
    // never run, and the session list would keep a pointer to this session after it is freed.
    session.close();
    end_of_relay();
    throw;
  }
}

boost::asio::awaitable<void> Worker::serve_http(Session& session) {
  const SessionList::iterator registration = enlist(session);
  // Accepted just before the drain began, started after it: drained like the others.
  session.drain.requested = draining_;
  const http::SessionSettings settings{options_.http_idle_timeout, options_.http_header_timeout,
                                       &stats_.http_requests_in_flight};
  co_await http::serve_client(session.http_sockets(), *this, settings, pipes_, stats_.http_refusals);
  delist(registration);
}

Worker::SessionList::iterator Worker::enlist(Session& session) {
  sessions_.push_front(&session);
  // Only this thread writes the count: a plain load and store, no locked instruction.
  active_sessions_.store(active_sessions_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return sessions_.begin();
}

void Worker::delist(SessionList::iterator registration) {
  Session& session = **registration;
  sessions_.erase(registration);
  active_sessions_.store(active_sessions_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  count_bytes(session);
}

// Not a coroutine itself: connect_backend's frame is the only one a request's lease costs.
boost::asio::awaitable<balance::BackendPtr> Worker::lease(tcp::socket& socket, const tcp::socket& client,
                                                          pool::Checkout& checkout) {
  return connect_backend(socket, client, &checkout);
}

boost::asio::awaitable<bool> Worker::dial_fresh(tcp::socket& socket, const balance::BackendPtr& backend) {
  const auto dial_started = std::chrono::steady_clock::now();
  boost::system::error_code ec = co_await pool::dial(socket, backend->address, options_.connect_timeout);
  if (!ec) {
    stats_.endpoint(backend->key).pool->connect_duration.observe(std::chrono::steady_clock::now() - dial_started);
    co_return true;
  }
  report_dial_failure(backend, ec);
  co_return false;
}

void Worker::give_back(tcp::socket&& socket, const balance::Backend& backend, pool::Reuse reuse,
                       pool::Checkout checkout) {
  if (pool::EndpointPool* pool = pool_for(backend)) {
    pool->release(std::move(socket), reuse, checkout);
    return;
  }
  boost::system::error_code ignored;
  socket.close(ignored);  // pooling off, or the endpoint left the set
}

boost::asio::awaitable<balance::BackendPtr> Worker::connect_backend(tcp::socket& backend, const tcp::socket& client,
                                                                    pool::Checkout* checkout) {
  // The attempt keeps its own reference to the set, so a reload during a dial cannot pull it away.
  balance::BackendSetPtr set = balancer_.set();
  auto attempt = balancer_.start();
  while (balance::Backend* candidate = attempt.next()) {
    balance::BackendPtr target = set->find(candidate->key);
    admin::EndpointStats& stats = stats_.endpoint(candidate->key);
    if (pool::EndpointPool* pool = pool_for(*candidate)) {
      if (pool->acquire(backend, checkout)) co_return target;
    } else {
      ++stats.pool->misses;  // pooling off (or draining): every client dials, which the metrics call a miss
    }
    const auto dial_started = std::chrono::steady_clock::now();
    boost::system::error_code ec = co_await pool::dial(backend, candidate->address, options_.connect_timeout);
    if (!ec) {
      stats.pool->connect_duration.observe(std::chrono::steady_clock::now() - dial_started);
      co_return target;
    }
    report_dial_failure(target, ec);
    // Out of descriptors here: every other endpoint would fail the same way.
    if (pool::is_local_resource_exhaustion(ec)) break;
    if (!client.is_open()) break;  // drained or closed while we were dialing
  }
  ++stats_.rejected_no_backend;
  co_return nullptr;
}

pool::EndpointPool* Worker::pool_for(const balance::Backend& backend) {
  auto it = pools_.find(&backend);
  return it == pools_.end() ? nullptr : it->second.get();
}

void Worker::report_dial_failure(const balance::BackendPtr& backend, const boost::system::error_code& error) {
  if (pool::is_local_resource_exhaustion(error)) {
    if (descriptor_shortage_.failed(DescriptorShortage::Clock::now())) {
      spdlog::warn("worker {}: out of descriptors: cannot connect a client to {}: {}; such clients are closed "
                   "while descriptors are short",
                   index_, backend->key, error.message());
    }
    return;
  }
  ++stats_.endpoint(backend->key).connect_errors;
  health_.report_failure(backend, error);
}

void Worker::apply(balance::BackendSetPtr set) {
  bool removed_any = false;
  for (auto it = pools_.begin(); it != pools_.end();) {
    if (set->find(it->first->key) == nullptr) {
      it->second->shutdown(true);
      it = pools_.erase(it);
      removed_any = true;
    } else {
      ++it;
    }
  }
  if (options_.pool_max_per_endpoint > 0 && !draining_) {
    pool::PoolSettings settings{options_.pool_max_per_endpoint, options_.pool_max_idle, options_.connect_timeout,
                                options_.monitor_interval};
    // HTTP mode returns clean connections through release(), so a taken one needs no replacement dial.
    if (http_mode_) settings = pool::keep_alive_settings(settings);
    for (const balance::BackendPtr& backend : set->backends) {
      auto& pool = pools_[backend.get()];
      if (!pool) {
        pool = std::make_shared<pool::EndpointPool>(
            context_.get_executor(), backend, settings,
            [this](const balance::BackendPtr& failed, const boost::system::error_code& ec) {
              report_dial_failure(failed, ec);
            },
            stats_.endpoint(backend->key).pool);
        pool->refill();
      }
    }
  }
  for (const balance::BackendPtr& backend : set->backends) stats_.endpoint(backend->key);  // series from the start
  balancer_.reset(std::move(set));
  // Sessions to a removed endpoint get the grace period to finish, then are closed so clients move on.
  if (removed_any || std::any_of(sessions_.begin(), sessions_.end(), [&](Session* s) {
        return s->target && balancer_.set()->find(s->target->key) == nullptr;
      })) {
    boost::asio::co_spawn(
        context_,
        [this]() -> boost::asio::awaitable<void> {
          boost::asio::steady_timer grace(context_, options_.removed_endpoint_grace);
          co_await grace.async_wait(use_tuple);
          close_sessions_of_removed_backends();
        },
        boost::asio::detached);
  }
}

void Worker::close_sessions_of_removed_backends() {
  const auto& set = balancer_.set();
  std::size_t closed = 0;
  // Copy: closing wakes the relays, which unregister their sessions later, not during this loop.
  for (Session* session : std::vector<Session*>(sessions_.begin(), sessions_.end())) {
    if (session->target && set->find(session->target->key) == nullptr) {
      session->close();
      ++closed;
    }
  }
  if (closed > 0) {
    spdlog::info("worker {}: closed {} connection(s) to removed endpoints after the grace period", index_, closed);
  }
}

void Worker::on_backend_recovered(const balance::BackendPtr& backend) {
  if (pool::EndpointPool* pool = pool_for(*backend)) pool->refill();
}

void Worker::schedule_sweep() {
  sweep_timer_.expires_after(options_.pool_cleanup_interval);
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || draining_) return;
    for (auto& [backend, pool] : pools_) pool->sweep();
    schedule_sweep();
  });
}

void Worker::count_bytes(Session& session) {
  stats_.bytes_to_backend += session.bytes.to_backend - session.counted.to_backend;
  stats_.bytes_to_client += session.bytes.to_client - session.counted.to_client;
  session.counted = session.bytes;
}

void Worker::schedule_bytes_publish() {
  bytes_timer_.expires_after(kBytesPublishInterval);
  bytes_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    // Long-lived connections (watches) show their traffic as it flows, not only when they end.
    for (Session* session : sessions_) count_bytes(*session);
    schedule_bytes_publish();
  });
}

void Worker::stop_accepting() {
  accepting_ = false;
  draining_ = true;
  boost::system::error_code ignored;
  if (acceptor_) acceptor_->close(ignored);
  accept_pause_timer_.cancel();
  slot_wait_timer_.cancel();
  sweep_timer_.cancel();
  for (auto& [backend, pool] : pools_) pool->shutdown(false);
  pools_.clear();
  // HTTP clients need not wait for the drain timeout: each can be let go at a request boundary.
  if (http_mode_) {
    for (Session* session : sessions_) http::begin_drain(session->http_sockets());
  }
}

void Worker::close_all_sessions() {
  for (Session* session : std::vector<Session*>(sessions_.begin(), sessions_.end())) session->close();
}

}  // namespace poolgate::server

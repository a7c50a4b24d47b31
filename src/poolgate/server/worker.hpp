// One worker thread: its event loop, its SO_REUSEPORT listener, its pools, its pipes and its client sessions.
// Everything here is touched only by the worker's own thread; the control thread talks to it by posting.
#pragma once

#include "poolgate/admin/stats.hpp"
#include "poolgate/balance/health_monitor.hpp"
#include "poolgate/balance/round_robin.hpp"
#include "poolgate/config/options.hpp"
#include "poolgate/http/upstream.hpp"
#include "poolgate/pool/endpoint_pool.hpp"
#include "poolgate/relay/pipe_pool.hpp"
#include "poolgate/relay/relay.hpp"
#include "poolgate/server/accept_deferral.hpp"
#include "poolgate/server/connection_limit.hpp"
#include "poolgate/server/descriptor_shortage.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <list>
#include <memory>
#include <unordered_map>

namespace poolgate::relay {
class DrainedWait;
}

namespace poolgate::server {

class Worker : private http::Upstream {
 public:
  // `limit` is shared by every worker and must outlive them.
  Worker(unsigned index, const config::Options& options, balance::HealthMonitor& health, ConnectionLimit& limit);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  boost::asio::io_context& context() { return context_; }
  unsigned index() const { return index_; }

  // Called on the control thread before the worker runs.
  void adopt_listener(boost::asio::ip::tcp::acceptor acceptor);
  // Runs the event loop on the calling thread until stop().
  void run();
  void stop();

  // The methods below run on the worker's thread (post them there).
  void start_accepting();
  void apply(balance::BackendSetPtr set);
  void on_backend_recovered(const balance::BackendPtr& backend);
  // Drain: no new clients, no warm connections; open sessions continue (HTTP mode: until their next request
  // boundary, an idle client at once).
  void stop_accepting();
  void close_all_sessions();

  // Readable from any thread: the control thread polls it while draining.
  std::size_t active_sessions() const { return active_sessions_.load(std::memory_order_relaxed); }
  // Written only by this worker's thread, read by the admin thread at scrape time.
  const admin::WorkerStats& stats() const { return stats_; }

 private:
  struct Session;
  struct Connection;
  using SessionList = std::list<Session*>;

  boost::asio::awaitable<void> accept_loop();
  // Waits until a client is waiting (and, with --max-connections, a slot is free), then accepts it into `client`
  // (holding the slot, released when its connection ends) and its address into `peer`. Clients beyond the cap
  // wait in the kernel's listen backlog.
  boost::asio::awaitable<boost::system::error_code> accept_next(boost::asio::ip::tcp::socket& client,
                                                                boost::asio::ip::tcp::endpoint& peer,
                                                                relay::DrainedWait& backlog_wait);
  boost::asio::awaitable<void> wait_for_free_slot();
  // HTTP mode: `accepted` clients came out of the backlog before it ran dry; defers accepts while they queue.
  void adapt_accept_deferral(unsigned accepted);
  // Any thread (a ConnectionLimit waker): makes a worker waiting for a slot look again.
  void wake_if_waiting_for_slot();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket client, boost::asio::ip::tcp::endpoint peer);
  // Connects `backend` to the next endpoint in turn (a warm pooled socket, else a dial), failing over; null when
  // none could be reached (counted as rejected). `checkout` (HTTP mode) records where the socket came from, for
  // give_back().
  boost::asio::awaitable<balance::BackendPtr> connect_backend(boost::asio::ip::tcp::socket& backend,
                                                              const boost::asio::ip::tcp::socket& client,
                                                              pool::Checkout* checkout = nullptr);
  boost::asio::awaitable<void> serve_http(Session& session);

  // http::Upstream, for HTTP mode's sessions on this thread.
  boost::asio::awaitable<balance::BackendPtr> lease(boost::asio::ip::tcp::socket& socket,
                                                    const boost::asio::ip::tcp::socket& client,
                                                    pool::Checkout& checkout) override;
  boost::asio::awaitable<bool> dial_fresh(boost::asio::ip::tcp::socket& socket,
                                          const balance::BackendPtr& backend) override;
  void give_back(boost::asio::ip::tcp::socket&& socket, const balance::Backend& backend, pool::Reuse reuse,
                 pool::Checkout checkout) override;
  admin::EndpointStats& stats_of(const balance::Backend& backend) override { return stats_.endpoint(backend.key); }

  void close_sessions_of_removed_backends();
  void schedule_sweep();
  // A dial to `backend` failed. Out of descriptors is this worker's shortage, not the endpoint's fault: it is
  // logged once per shortage. Anything else counts against the endpoint, and the health monitor is told.
  void report_dial_failure(const balance::BackendPtr& backend, const boost::system::error_code& error);
  pool::EndpointPool* pool_for(const balance::Backend& backend);
  // Adds `session` to those this worker drains, closes and publishes byte counts for; delist() takes it off
  // again, its last bytes counted.
  SessionList::iterator enlist(Session& session);
  void delist(SessionList::iterator registration);
  void count_bytes(Session& session);
  void schedule_bytes_publish();

  unsigned index_;
  const config::Options& options_;
  const bool http_mode_;
  balance::HealthMonitor& health_;
  ConnectionLimit& limit_;
  // Declared before the event loop so that it outlives it: relay directions destroyed with the loop give their
  // pipes back to it.
  relay::PipePool pipes_;
  // Before the event loop too: sessions destroyed with the loop give back what they count.
  admin::WorkerStats stats_;
  boost::asio::io_context context_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_guard_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  balance::RoundRobin balancer_;
  std::unordered_map<const balance::Backend*, std::shared_ptr<pool::EndpointPool>> pools_;
  SessionList sessions_;
  std::atomic<std::size_t> active_sessions_{0};
  boost::asio::steady_timer sweep_timer_;
  boost::asio::steady_timer accept_pause_timer_;
  boost::asio::steady_timer slot_wait_timer_;
  // Set while the accept loop waits for a free slot: read by the thread that frees one (see ConnectionLimit).
  std::atomic<bool> waiting_for_slot_{false};
  bool accepting_ = false;
  unsigned accepted_in_batch_ = 0;  // clients accept_next() took since the loop last let other work run
  unsigned accepted_since_backlog_drained_ = 0;  // clients accept_next() took since accept4() last said EAGAIN
  AcceptDeferral accept_deferral_;  // HTTP mode only
  bool accept_deferral_failed_ = false;  // the listener refused a TCP_DEFER_ACCEPT change: no more are tried
  bool draining_ = false;
  DescriptorShortage descriptor_shortage_;
  boost::asio::steady_timer bytes_timer_;
};

}  // namespace poolgate::server

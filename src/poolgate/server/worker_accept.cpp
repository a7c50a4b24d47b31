// The worker's accepting side (declared in worker.hpp): the accept loop, the --max-connections cap, and the
// pauses when the process is out of descriptors. Apart from worker.cpp only to keep each file readable.
#include "poolgate/server/worker.hpp"

#include "poolgate/pool/dialer.hpp"
#include "poolgate/relay/asio_internals.hpp"
#include "poolgate/relay/drained_wait.hpp"
#include "poolgate/server/listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

namespace poolgate::server {
namespace {

using boost::asio::ip::tcp;
constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
// Out of descriptors: wait this long before accepting again, so the loop does not spin on EMFILE.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
// At the connection cap a worker is woken when a slot frees; this re-check only bounds the cost of a wake-up
// that never comes (it cannot be lost by design, but a stuck listener would be the price if it were).
constexpr auto kSlotRecheck = std::chrono::milliseconds(100);
// Clients accepted in a row before the accept loop lets the worker's other work run.
constexpr unsigned kAcceptBatch = 32;

// accept4() rather than Asio's accept(): the socket comes out non-blocking (Asio would spend an ioctl(FIONBIO)
// on its first asynchronous operation, the relay one on its first splice) and with the peer's address (which
// Asio's socket would fetch with getpeername() when HTTP mode asks). Asio is told both facts.
boost::system::error_code accept_now(tcp::acceptor& acceptor, tcp::socket& client, tcp::endpoint& peer) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  const int fd = ::accept4(acceptor.native_handle(), reinterpret_cast<sockaddr*>(&address), &length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return {errno, boost::system::system_category()};
  std::memcpy(peer.data(), &address, std::min<std::size_t>(length, peer.capacity()));
  peer.resize(std::min<std::size_t>(length, peer.capacity()));
  boost::system::error_code ec;
  client.assign(address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    return ec;
  }
  relay::mark_already_non_blocking(client);
  relay::mark_never_duplicated(client);
  return ec;
}

}  // namespace

void Worker::start_accepting() {
  if (!acceptor_ || accepting_) return;
  accepting_ = true;
  // accept4() below must come back with EAGAIN once the backlog is empty, not block the worker.
  boost::system::error_code ignored;
  acceptor_->non_blocking(true, ignored);
  boost::asio::co_spawn(context_, accept_loop(), boost::asio::detached);
  schedule_sweep();
  schedule_bytes_publish();
}

boost::asio::awaitable<void> Worker::accept_loop() {
  relay::DrainedWait backlog_wait(context_.get_executor());
  while (accepting_) {
    tcp::socket client(context_);
    tcp::endpoint peer;
    const boost::system::error_code ec = co_await accept_next(client, peer, backlog_wait);
    if (!accepting_ || ec == boost::asio::error::operation_aborted) break;
    if (pool::is_local_resource_exhaustion(ec)) {
      ++stats_.accept_pauses_out_of_descriptors;
      if (descriptor_shortage_.failed(DescriptorShortage::Clock::now())) {
        spdlog::warn("worker {}: out of descriptors: cannot accept: {}; pausing accepts {} ms at a time while open "
                     "connections continue",
                     index_, ec.message(), kAcceptPause.count());
      }
      accept_pause_timer_.expires_after(kAcceptPause);
      co_await accept_pause_timer_.async_wait(use_tuple);
      continue;
    }
    if (ec) continue;  // the client gave up before we accepted it (ECONNABORTED and the like)
    if (descriptor_shortage_.active()) {
      if (const std::uint64_t failed = descriptor_shortage_.ended(DescriptorShortage::Clock::now())) {
        spdlog::info("worker {}: descriptors suffice again; {} accept(s) or client dial(s) failed for want of one",
                     index_, failed);
      }
    }
    ++stats_.accepted;
    boost::asio::co_spawn(context_, serve(std::move(client), peer), boost::asio::detached);
  }
}

boost::asio::awaitable<boost::system::error_code> Worker::accept_next(tcp::socket& client, tcp::endpoint& peer,
                                                                     relay::DrainedWait& backlog_wait) {
  // Clients are accepted straight away while the backlog has some (one syscall each, no trip through the
  // reactor); a readiness wait is armed only once accept4() says the backlog is empty. A burst is taken a batch
  // at a time so that the connections already open get their turn in between. The wait follows the EAGAIN with
  // no suspension in between, so it needs no epoll_ctl(MOD) re-arming the listener as Asio's async_wait would
  // (one per empty backlog, about every other connection under load; see relay/drained_wait.hpp).
  bool backlog_empty = false;
  while (accepting_) {
    if (backlog_empty) {
      auto [ec, ignored] = co_await backlog_wait.async_wait_readable(*acceptor_, /*after_eagain=*/true, use_tuple);
      if (ec) co_return ec;
      backlog_empty = false;
      accepted_in_batch_ = 0;
      continue;
    }
    if (accepted_in_batch_ >= kAcceptBatch) {
      accepted_in_batch_ = 0;
      co_await boost::asio::post(context_, boost::asio::use_awaitable);
      continue;
    }
    if (limit_.enabled() && !limit_.try_acquire()) {
      co_await wait_for_free_slot();
      continue;
    }
    const boost::system::error_code ec = accept_now(*acceptor_, client, peer);
    ++accepted_in_batch_;  // failures count too: an error that repeats must not keep the worker to itself
    if (!ec) {
      ++accepted_since_backlog_drained_;
      co_return ec;  // the slot, if any, now belongs to this client
    }
    if (limit_.enabled()) limit_.release();
    if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) co_return ec;
    backlog_empty = true;
    if (http_mode_) adapt_accept_deferral(std::exchange(accepted_since_backlog_drained_, 0));
  }
  co_return boost::asio::error::operation_aborted;
}

void Worker::adapt_accept_deferral(unsigned accepted) {
  if (accept_deferral_failed_ || !accept_deferral_.note_drained_backlog(accepted)) return;
  const bool on = accept_deferral_.deferring();
  if (const boost::system::error_code ec = defer_accept(*acceptor_, on)) {
    // The listener keeps its setting, and the gauge with it; trying again at every change would only repeat this.
    accept_deferral_failed_ = true;
    spdlog::warn("worker {}: cannot turn {} deferred accept on the listener ({}); it stays {}", index_,
                 on ? "on" : "off", ec.message(), on ? "accepting at once" : "deferring");
    return;
  }
  stats_.accept_deferring.set(on ? 1 : 0);
  spdlog::debug("worker {}: deferred accept {}", index_, on ? "on: clients are queueing" : "off");
}

boost::asio::awaitable<void> Worker::wait_for_free_slot() {
  ++stats_.accept_pauses_max_connections;
  if (limit_.note_reached()) {
    spdlog::warn("connection limit reached: {} client connections open (--max-connections {}); new clients wait "
                 "in the listen backlog until one closes",
                 limit_.open(), limit_.max());
  }
  // Announce the wait before looking at the count (both sequentially consistent): a slot freed after the look
  // finds the flag set and wakes this worker (ConnectionLimit::release).
  waiting_for_slot_.store(true);
  while (accepting_ && !limit_.has_room()) {
    slot_wait_timer_.expires_after(kSlotRecheck);
    co_await slot_wait_timer_.async_wait(use_tuple);
    if (!limit_.has_room()) limit_.note_reached();  // still at the cap: the episode goes on
  }
  waiting_for_slot_.store(false);
}

void Worker::wake_if_waiting_for_slot() {
  if (waiting_for_slot_.load()) {
    boost::asio::post(context_, [this] { slot_wait_timer_.cancel(); });
  }
}

}  // namespace poolgate::server

// The worker's accepting side (declared in worker.hpp): the accept loop, the --max-connections cap, and the
// pauses when the process is out of descriptors. Apart from worker.cpp only to keep each file readable.
#include "poolgate/server/worker.hpp"

#include "poolgate/pool/dialer.hpp"
#include "poolgate/relay/asio_internals.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <tuple>

namespace poolgate::server {
namespace {

using boost::asio::ip::tcp;
constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
// Out of descriptors: wait this long before accepting again, so the loop does not spin on EMFILE.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
// At the connection cap a worker is woken when a slot frees; this re-check only bounds the cost of a wake-up
// that never comes (it cannot be lost by design, but a stuck listener would be the price if it were).
constexpr auto kSlotRecheck = std::chrono::milliseconds(100);

}  // namespace

void Worker::start_accepting() {
  if (!acceptor_ || accepting_) return;
  accepting_ = true;
  if (limit_.enabled()) {
    boost::system::error_code ignored;
    acceptor_->non_blocking(true, ignored);
  }
  boost::asio::co_spawn(context_, accept_loop(), boost::asio::detached);
  schedule_sweep();
  schedule_bytes_publish();
}

boost::asio::awaitable<void> Worker::accept_loop() {
  // Under sustained exhaustion accepts alternate between failing and succeeding every pause; one warning per
  // episode, an episode ending only after a quiet spell, keeps that from becoming a log storm.
  using Clock = std::chrono::steady_clock;
  constexpr auto kQuietSpell = std::chrono::seconds(10);
  bool exhausted = false;
  Clock::time_point last_exhaustion{};
  std::uint64_t refused_in_episode = 0;
  while (accepting_) {
    tcp::socket client(context_);
    boost::system::error_code ec;
    if (limit_.enabled()) {
      ec = co_await accept_within_limit(client);
    } else {
      std::tie(ec, client) = co_await acceptor_->async_accept(use_tuple);
    }
    if (!accepting_ || ec == boost::asio::error::operation_aborted) break;
    if (pool::is_local_resource_exhaustion(ec)) {
      ++stats_.accept_pauses_out_of_descriptors;
      if (!exhausted) {
        spdlog::warn("worker {}: cannot accept: {}; pausing accepts {} ms at a time while open connections continue",
                     index_, ec.message(), kAcceptPause.count());
      }
      exhausted = true;
      last_exhaustion = Clock::now();
      ++refused_in_episode;
      accept_pause_timer_.expires_after(kAcceptPause);
      co_await accept_pause_timer_.async_wait(use_tuple);
      continue;
    }
    if (ec) continue;  // the client gave up before we accepted it (ECONNABORTED and the like)
    if (exhausted && Clock::now() - last_exhaustion > kQuietSpell) {
      spdlog::info("worker {}: accepting normally again after {} paused accept(s)", index_, refused_in_episode);
      exhausted = false;
      refused_in_episode = 0;
    }
    ++stats_.accepted;
    relay::mark_never_duplicated(client);
    boost::asio::co_spawn(context_, serve(std::move(client)), boost::asio::detached);
  }
}

boost::asio::awaitable<boost::system::error_code> Worker::accept_within_limit(tcp::socket& client) {
  // Clients are accepted straight away while the backlog has some (one syscall each, no trip through the
  // reactor); a readiness wait is armed only once accept() says the backlog is empty.
  bool backlog_empty = false;
  while (accepting_) {
    if (backlog_empty) {
      auto [ec] = co_await acceptor_->async_wait(tcp::acceptor::wait_read, use_tuple);
      if (ec) co_return ec;
      backlog_empty = false;
      continue;
    }
    if (!limit_.try_acquire()) {
      co_await wait_for_free_slot();
      continue;
    }
    boost::system::error_code ec;
    acceptor_->accept(client, ec);  // non-blocking: the acceptor is switched to it in start_accepting()
    if (!ec) co_return ec;          // the slot now belongs to this client
    limit_.release();
    if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) co_return ec;
    backlog_empty = true;
  }
  co_return boost::asio::error::operation_aborted;
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

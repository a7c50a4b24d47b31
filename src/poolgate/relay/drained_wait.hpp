// Waiting for a drained socket to become readable without an epoll_ctl() per wait, by queueing an operation on
// Asio's reactor (Asio 1.81, epoll) directly.
#pragma once

#include "poolgate/relay/asio_internals.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/system/error_code.hpp>

#include <memory>
#include <type_traits>
#include <utility>

namespace poolgate::relay {

// Why: Asio's async_wait re-arms the descriptor with epoll_ctl(EPOLL_CTL_MOD) on every call, so that readiness
// which already exists is reported. A relay that has just read a socket empty (TCP_INQ said nothing is left, or
// EAGAIN) does not need that: the socket is registered edge-triggered for input once, for its lifetime, and any
// byte, FIN or reset that arrives after the read raises a new edge. So this wait is queued on the reactor directly.
//
// The reactor's own bookkeeping keeps it correct: if an edge arrived while nothing was waiting on the socket, the
// reactor has marked the socket worth a speculative attempt, and this operation then completes at once. It must
// only be used after a read found the socket empty; a splice() that returned short may have stopped at a full
// pipe with bytes still queued, and needs async_wait.
//
// `read_empty_just_now`: the caller read the socket empty and has not yielded to the event loop since. No edge
// can have been taken from epoll in between, so a speculative hint the reactor holds is stale (it sets one for
// every socket when registering it) and is declined: without that, each new connection spends a read on EAGAIN
// per direction.
class DrainedWait {
 public:
  explicit DrainedWait(const boost::asio::any_io_executor& executor)
      : reactor_(&boost::asio::use_service<boost::asio::detail::reactor>(
            boost::asio::query(executor, boost::asio::execution::context))) {}

  template <class CompletionToken>
  auto async_wait_readable(boost::asio::ip::tcp::socket& socket, bool read_empty_just_now, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code)>(
        [this, &socket, read_empty_just_now](auto handler) {
          start(socket, read_empty_just_now, std::move(handler));
        },
        token);
  }

 private:
  static_assert(std::is_same_v<boost::asio::detail::reactor, boost::asio::detail::epoll_reactor>,
                "DrainedWait relies on Asio's edge-triggered epoll reactor");

  template <class Handler>
  class Operation : public boost::asio::detail::reactor_op {
   public:
    explicit Operation(Handler handler)
        : reactor_op(boost::system::error_code(), &perform, &complete), handler_(std::move(handler)) {}

   private:
    // Called when the reactor saw input readiness, or speculatively (from start_op) when it holds a hint that an
    // edge arrived while nothing waited. "Exhausted" makes the reactor drop the hint: the relay is about to read
    // the socket empty again.
    static status perform(reactor_op* base) {
      return static_cast<Operation*>(base)->decline_speculation_ ? not_done : done_and_exhausted;
    }

    static void complete(void* owner, boost::asio::detail::operation* base, const boost::system::error_code&,
                         std::size_t) {
      auto* self = static_cast<Operation*>(base);
      Handler handler = std::move(self->handler_);
      const boost::system::error_code ec = self->ec_;
      Allocator allocator;
      std::allocator_traits<Allocator>::destroy(allocator, self);
      std::allocator_traits<Allocator>::deallocate(allocator, self, 1);
      if (owner) std::move(handler)(ec);  // a null owner means the io_context is being destroyed
    }

    using Allocator = boost::asio::recycling_allocator<Operation>;
    Handler handler_;
    bool decline_speculation_ = false;  // true only inside start(), so only the speculative call can see it

    friend class DrainedWait;
  };

  template <class Handler>
  void start(boost::asio::ip::tcp::socket& socket, bool read_empty_just_now, Handler handler) {
    using Op = Operation<Handler>;
    typename Op::Allocator allocator;
    Op* op = std::allocator_traits<typename Op::Allocator>::allocate(allocator, 1);
    std::allocator_traits<typename Op::Allocator>::construct(allocator, op, std::move(handler));
    auto& implementation = socket_internals(socket);
    // The socket belongs to this thread's io_context, which runs on this thread alone: the reactor performs the
    // queued operation only from a later epoll_wait() here, by which time the flag is down again. (An operation
    // that start_op completes at once, for a closed socket, is run later by the scheduler, not freed here.)
    op->decline_speculation_ = read_empty_just_now;
    reactor_->start_op(boost::asio::detail::reactor::read_op, implementation.socket_, implementation.reactor_data_,
                       op, /*is_continuation=*/true, /*allow_speculative=*/true);
    op->decline_speculation_ = false;
  }

  boost::asio::detail::reactor* reactor_;
};

}  // namespace poolgate::relay

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

#include <sys/epoll.h>

#include <memory>
#include <type_traits>
#include <utility>

namespace poolgate::relay {

// Why: Asio's async_wait re-arms the descriptor with epoll_ctl(EPOLL_CTL_MOD) on every call, so that readiness
// which already exists is reported. A relay that has just read a socket empty does not need that: the socket is
// registered edge-triggered for input once, for its lifetime, and any byte, FIN or reset that arrives after the
// read raises a new edge. So this wait is queued on the reactor directly.
//
// "Empty" must include errors. TCP_INQ counts queued bytes and a pending FIN, but not a pending reset: a read
// returns the bytes that came before a reset and reports the reset only on the next read. So a read that TCP_INQ
// calls empty is trusted only when the wake-up before it carried no error or hang-up; the wait's completion says
// which (`must_read_until_eagain`), from the epoll events the reactor is handling. Only EAGAIN itself proves a
// socket empty of everything.
//
// The reactor's own bookkeeping keeps the rest correct: if an edge arrived while nothing was waiting on the
// socket, the reactor has marked the socket worth a speculative attempt, and this operation then completes at
// once, with `must_read_until_eagain` set (which events came is unknown then). A splice() that returned short
// may have stopped at a full pipe with bytes still queued, and needs async_wait.
//
// `after_eagain`: the caller's last read said EAGAIN and it has not yielded to the event loop since. A
// speculative hint the reactor holds is then stale (it sets one for every socket when registering it, and any
// event since registration was consumed by that read) and is declined: without that, each new connection spends
// a read on EAGAIN per direction.
class DrainedWait {
 public:
  explicit DrainedWait(const boost::asio::any_io_executor& executor)
      : reactor_(&boost::asio::use_service<boost::asio::detail::reactor>(
            boost::asio::query(executor, boost::asio::execution::context))) {}

  // Completes with (error, must_read_until_eagain). `socket` is a tcp::socket, or a tcp::acceptor whose accept4()
  // said EAGAIN (a listener has no reset to miss: must_read_until_eagain is then meaningless).
  template <class Socket, class CompletionToken>
  auto async_wait_readable(Socket& socket, bool after_eagain, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, bool)>(
        [this, &socket, after_eagain](auto handler) { start(socket, after_eagain, std::move(handler)); }, token);
  }

 private:
  static_assert(std::is_same_v<boost::asio::detail::reactor, boost::asio::detail::epoll_reactor>,
                "DrainedWait relies on Asio's edge-triggered epoll reactor");

  // The epoll events the reactor is handling for a socket: while perform_io() runs, its descriptor state (which
  // derives privately from scheduler_operation) holds them in the protected task_result_.
  // (Defined in drained_wait.cpp, with the one explicit instantiation that reaches the member.)
  static unsigned int events_being_handled(boost::asio::detail::reactor::per_descriptor_data state);

  template <class Handler>
  class Operation : public boost::asio::detail::reactor_op {
   public:
    Operation(Handler handler, boost::asio::detail::reactor::per_descriptor_data state)
        : reactor_op(boost::system::error_code(), &perform, &complete), handler_(std::move(handler)), state_(state) {}

   private:
    // Called from perform_io() when the reactor saw readiness (input, error or hang-up), or speculatively from
    // start_op() when it holds a hint that an edge arrived while nothing waited. "Exhausted" makes the reactor
    // drop the hint: the relay is about to read the socket empty again.
    static status perform(reactor_op* base) {
      auto* self = static_cast<Operation*>(base);
      if (self->starting_) {
        if (self->decline_speculation_) return not_done;
        self->must_read_until_eagain_ = true;  // woken by a hint: which events came is unknown
      } else {
        self->must_read_until_eagain_ = (events_being_handled(self->state_) & (EPOLLERR | EPOLLHUP)) != 0;
      }
      return done_and_exhausted;
    }

    static void complete(void* owner, boost::asio::detail::operation* base, const boost::system::error_code&,
                         std::size_t) {
      auto* self = static_cast<Operation*>(base);
      Handler handler = std::move(self->handler_);
      const boost::system::error_code ec = self->ec_;
      const bool must_read_until_eagain = self->must_read_until_eagain_;
      Allocator allocator;
      std::allocator_traits<Allocator>::destroy(allocator, self);
      std::allocator_traits<Allocator>::deallocate(allocator, self, 1);
      if (owner) std::move(handler)(ec, must_read_until_eagain);  // a null owner: the io_context is going away
    }

    using Allocator = boost::asio::recycling_allocator<Operation>;
    Handler handler_;
    boost::asio::detail::reactor::per_descriptor_data state_;
    bool starting_ = false;  // true only inside start(): perform() is then the speculative attempt
    bool decline_speculation_ = false;
    bool must_read_until_eagain_ = false;

    friend class DrainedWait;
  };

  template <class Socket, class Handler>
  void start(Socket& socket, bool after_eagain, Handler handler) {
    using Op = Operation<Handler>;
    auto& implementation = socket_internals(socket);
    typename Op::Allocator allocator;
    Op* op = std::allocator_traits<typename Op::Allocator>::allocate(allocator, 1);
    std::allocator_traits<typename Op::Allocator>::construct(allocator, op, std::move(handler),
                                                             implementation.reactor_data_);
    // The socket belongs to this thread's io_context, which runs on this thread alone: the reactor performs the
    // queued operation only from a later epoll_wait() here, by which time the flags are down again. (An operation
    // that start_op completes at once, for a closed socket, is run later by the scheduler, not freed here.)
    op->starting_ = true;
    op->decline_speculation_ = after_eagain;
    reactor_->start_op(boost::asio::detail::reactor::read_op, implementation.socket_, implementation.reactor_data_,
                       op, /*is_continuation=*/true, /*allow_speculative=*/true);
    op->starting_ = false;
    op->decline_speculation_ = false;
  }

  boost::asio::detail::reactor* reactor_;
};

}  // namespace poolgate::relay

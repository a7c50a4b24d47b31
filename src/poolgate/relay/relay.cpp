#include "poolgate/relay/relay.hpp"

#include "poolgate/relay/drained_wait.hpp"
#include "poolgate/relay/socket_reader.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>

namespace poolgate::relay {
namespace {

using boost::asio::ip::tcp;
constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
constexpr std::size_t kChunk = 64 * 1024;

// Closing with SO_LINGER {on, 0} sends RST instead of FIN: how a reset on one side reaches the other.
void close_with_reset(tcp::socket& socket) {
  if (!socket.is_open()) return;
  boost::system::error_code ignored;
  socket.set_option(tcp::socket::linger(true, 0), ignored);
  socket.close(ignored);
}

void close_quietly(tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.close(ignored);
}

void close_both(tcp::socket& client, tcp::socket& backend) {
  close_quietly(client);
  close_quietly(backend);
}

void shutdown_write(tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
}

// How one direction ended, so the relay can tell the other side the same story.
enum class Ending { eof, source_reset, destination_gone, cancelled };

// What the two directions of one relay know of each other.
struct RelayState {
  int directions_running = 2;
  // A send that fails with ECONNRESET takes the socket's one report of the reset: the direction reading that
  // socket then sees a plain end of stream, and would pass on a FIN. Such sockets are noted here instead.
  std::array<const tcp::socket*, 2> reset_seen_by_send{};

  void note_reset_seen_by_send(const tcp::socket& socket) {
    for (const tcp::socket*& slot : reset_seen_by_send) {
      if (slot == nullptr || slot == &socket) {
        slot = &socket;
        return;
      }
    }
  }
  bool reset_was_seen_by_send(const tcp::socket& socket) const {
    return std::find(reset_seen_by_send.begin(), reset_seen_by_send.end(), &socket) != reset_seen_by_send.end();
  }
};

// The source was reset: the destination learns it by a reset. The destination went away: nothing is said to the
// source here, because the other direction is still delivering the destination's last bytes and will pass on
// its FIN or reset in order; unread client bytes then make the final close a reset by themselves.
void pass_on(Ending ending, tcp::socket& from, tcp::socket& to, RelayState& state) {
  --state.directions_running;
  switch (ending) {
    case Ending::eof:
      // The last direction to end needs no shutdown: the relay closes both sockets next, which sends the FIN.
      if (state.directions_running > 0) shutdown_write(to);
      break;
    case Ending::source_reset:
      close_with_reset(to);
      close_quietly(from);
      break;
    case Ending::destination_gone:
      break;
    case Ending::cancelled:
      close_quietly(from);
      close_quietly(to);
      break;
  }
}

// Small messages (requests, answers, RPCs) go through a per-thread scratch buffer with recv()/send(): for a few
// hundred bytes that is cheaper than two splice() calls through a pipe. A read that fills the scratch buffer
// means a stream, which then goes through a pipe with splice() until a read comes back small again.
constexpr std::size_t kScratch = 16 * 1024;

char* scratch_buffer() {
  // One per worker thread: bytes sit in it only between a recv() and the send() that follows, with no suspension
  // in between; what the destination cannot take at once is copied out before the relay waits.
  thread_local const std::unique_ptr<char[]> scratch(new char[kScratch]);
  return scratch.get();
}

// splice() honours only a socket's own O_NONBLOCK (recv() and send() here pass MSG_DONTWAIT). An accepted socket
// starts blocking, and most connections never stream, so the flag costs its syscall only when a stream starts.
void make_non_blocking(tcp::socket& socket) {
  if (socket.native_non_blocking()) return;
  boost::system::error_code ignored;
  socket.native_non_blocking(true, ignored);
}

}  // namespace

int send_now(tcp::socket& to, const char*& data, std::size_t& size, std::uint64_t& moved) {
  while (size > 0) {
    const ssize_t sent = ::send(to.native_handle(), data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent > 0) {
      data += sent;
      size -= static_cast<std::size_t>(sent);
      moved += static_cast<std::uint64_t>(sent);
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && errno == EAGAIN) return 0;
    return sent < 0 ? errno : EIO;  // send() returning 0 for a non-empty buffer: no progress is possible
  }
  return 0;
}

boost::asio::awaitable<int> send_rest(tcp::socket& to, const char* data, std::size_t size, std::uint64_t& moved) {
  // Copied before the first wait: `data` may be a per-thread buffer that others fill meanwhile.
  const std::unique_ptr<char[]> held = std::make_unique<char[]>(size);
  std::memcpy(held.get(), data, size);
  data = held.get();
  while (size > 0) {
    if (auto [ec] = co_await to.async_wait(tcp::socket::wait_write, use_tuple); ec) co_return ECANCELED;
    if (const int failure = send_now(to, data, size, moved); failure != 0) co_return failure;
  }
  co_return 0;
}

namespace {

// The pipe a direction holds while a stream flows. The direction gives it back to the pool when it waits or
// ends; a direction that ends otherwise (an exception, or its frame destroyed with its event loop mid-stream)
// gives it back here, as not empty: the pool closes it and counts it no longer in use.
struct HeldPipe {
  explicit HeldPipe(PipePool& pool) : pool(pool) {}
  HeldPipe(const HeldPipe&) = delete;
  HeldPipe& operator=(const HeldPipe&) = delete;
  ~HeldPipe() {
    if (pipe) pool.release(*pipe, false);
  }
  PipePool& pool;
  std::optional<Pipe> pipe;
};

// Moves one direction until it ends. A connection holds a pipe only while a stream flows; before it waits for the
// source, the (empty) pipe goes back to the thread's cache. Idle connections (watches, most of a node's) then
// cost two descriptors, not six.
boost::asio::awaitable<void> forward(tcp::socket& from, tcp::socket& to, PipePool& pipes, DrainedWait& drained,
                                     std::uint64_t& moved, RelayState& state) {
  HeldPipe held(pipes);
  std::optional<Pipe>& pipe = held.pipe;
  std::size_t in_pipe = 0;
  Ending ending = Ending::eof;
  bool streaming = false;  // splice() through a pipe rather than recv()/send() through the scratch buffer
  // A read that emptied the socket is followed by a wait for readiness rather than a read spent on EAGAIN. When
  // the emptiness is proven the cheap wait will do (see drained_wait.hpp): EAGAIN proves it, and so does TCP_INQ
  // saying nothing is left when the wake-up before the read reported no error or hang-up (TCP_INQ does not see
  // a pending reset). A short splice() may have stopped at a full pipe with bytes or a FIN still queued, so that
  // wait is async_wait, which re-checks readiness as it is armed.
  bool probably_drained = false;
  bool proven_empty = false;
  bool inq_trusted = false;         // the last wake-up reported input only (unknown before the first wait)
  // An EAGAIN read always goes straight to the wait, with no suspension in between: what DrainedWait's
  // after_eagain asks for.
  bool last_read_eagain = false;
  for (;;) {
    if (!from.is_open() || !to.is_open()) {
      ending = Ending::cancelled;
      break;
    }
    if (probably_drained) {
      if (pipe) {
        pipes.release(*pipe, true);  // everything read has been written: the pipe is empty
        pipe.reset();
      }
      // A failed wait means the socket was closed under us (drain, endpoint removal).
      boost::system::error_code ec;
      if (proven_empty) {
        bool must_read_until_eagain = true;
        std::tie(ec, must_read_until_eagain) = co_await drained.async_wait_readable(
            from, /*after_eagain=*/last_read_eagain, use_tuple);
        inq_trusted = !must_read_until_eagain;
      } else {
        std::tie(ec) = co_await from.async_wait(tcp::socket::wait_read, use_tuple);
        inq_trusted = false;
      }
      if (ec) {
        ending = Ending::cancelled;
        break;
      }
    }
    // Without a pipe (none left under the descriptor budget) a stream is copied too.
    if (streaming && !pipe && !(pipe = pipes.acquire())) streaming = false;
    if (streaming) {
      make_non_blocking(from);
      make_non_blocking(to);
    }
    char* const scratch = scratch_buffer();
    const Received received = streaming ? Received{::splice(from.native_handle(), nullptr, pipe->write_end,
                                                             nullptr, kChunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK)}
                                        : receive(from.native_handle(), scratch, kScratch);
    const ssize_t in = received.size;
    last_read_eagain = in < 0 && errno == EAGAIN;
    if (streaming && (in == 0 || last_read_eagain)) {
      // splice() stops at TCP urgent data, with bytes still queued, and reports 0 or EAGAIN there; recvmsg()
      // reads past the mark. So a stream's end or pause is confirmed by a copy-mode read.
      streaming = false;
      probably_drained = false;
      continue;
    }
    if (in == 0) {
      ending = state.reset_was_seen_by_send(from) ? Ending::source_reset : Ending::eof;
      break;
    }
    if (in < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        probably_drained = proven_empty = true;
        continue;
      }
      ending = from.is_open() ? Ending::source_reset : Ending::cancelled;
      break;
    }
    const auto got = static_cast<std::size_t>(in);
    if (received.empty_known) {
      // Emptied but not trusted: read once more, to EAGAIN or the pending error.
      probably_drained = proven_empty = received.emptied && inq_trusted;
    } else {
      probably_drained = got < (streaming ? kChunk : kScratch);
      proven_empty = false;
    }
    if (!streaming) {
      streaming = got == kScratch;
      // The waiting kind of send is a coroutine of its own; most messages fit in the socket's buffer at once.
      const char* unsent = scratch;
      std::size_t left = got;
      int failure = send_now(to, unsent, left, moved);
      if (failure == 0 && left > 0) failure = co_await send_rest(to, unsent, left, moved);
      if (failure != 0) {
        if (failure == ECONNRESET) state.note_reset_seen_by_send(to);
        ending = to.is_open() ? Ending::destination_gone : Ending::cancelled;
        break;
      }
      continue;
    }
    streaming = got >= kScratch;
    in_pipe += got;
    while (in_pipe > 0) {
      ssize_t out = ::splice(pipe->read_end, nullptr, to.native_handle(), nullptr, in_pipe,
                             SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (out > 0) {
        in_pipe -= static_cast<std::size_t>(out);
        moved += static_cast<std::uint64_t>(out);
      } else if (out < 0 && errno == EINTR) {
        continue;
      } else if (out < 0 && errno == EAGAIN) {
        if (auto [ec] = co_await to.async_wait(tcp::socket::wait_write, use_tuple); ec) break;
      } else {
        if (out < 0 && errno == ECONNRESET) state.note_reset_seen_by_send(to);
        break;
      }
    }
    if (in_pipe > 0) {
      ending = to.is_open() ? Ending::destination_gone : Ending::cancelled;
      break;
    }
  }
  if (pipe) pipes.release(*std::exchange(pipe, std::nullopt), in_pipe == 0);
  pass_on(ending, from, to, state);
}

// What the two directions of a spawned relay share. Each direction's completion handler holds it, so it lives
// until the second one has ended; it holds the owner, which holds the sockets and totals referred to here.
struct SpawnedRelay {
  SpawnedRelay(std::shared_ptr<void> owner_, tcp::socket& client_, tcp::socket& backend_, PipePool& pipes_,
               RelayTotals& totals_, std::function<void()> on_end_)
      : owner(std::move(owner_)),
        client(client_),
        backend(backend_),
        pipes(pipes_),
        totals(totals_),
        drained(client_.get_executor()),
        on_end(std::move(on_end_)) {}

  std::shared_ptr<void> owner;
  tcp::socket& client;
  tcp::socket& backend;
  PipePool& pipes;
  RelayTotals& totals;
  RelayState state;
  DrainedWait drained;
  std::function<void()> on_end;
  int directions_running = 2;
};

void direction_ended(SpawnedRelay& relay, const std::exception_ptr& failure) {
  // A direction that failed (bad_alloc) ends the relay: closing both sockets wakes the other one.
  if (failure) close_both(relay.client, relay.backend);
  if (--relay.directions_running > 0) return;
  close_both(relay.client, relay.backend);
  if (relay.on_end) std::exchange(relay.on_end, nullptr)();
}

}  // namespace

void spawn_relay(std::shared_ptr<void> owner, tcp::socket& client, tcp::socket& backend, PipePool& pipes,
                 RelayTotals& totals, std::function<void()> on_end) {
  auto relay = std::make_shared<SpawnedRelay>(std::move(owner), client, backend, pipes, totals, std::move(on_end));
  SpawnedRelay& shared = *relay;
  const auto executor = client.get_executor();
  boost::asio::co_spawn(executor,
                        forward(shared.client, shared.backend, shared.pipes, shared.drained,
                                shared.totals.to_backend, shared.state),
                        [relay](std::exception_ptr failure) { direction_ended(*relay, failure); });
  boost::asio::co_spawn(executor,
                        forward(shared.backend, shared.client, shared.pipes, shared.drained,
                                shared.totals.to_client, shared.state),
                        [relay = std::move(relay)](std::exception_ptr failure) { direction_ended(*relay, failure); });
}

boost::asio::awaitable<void> relay(tcp::socket& client, tcp::socket& backend, PipePool& pipes,
                                   RelayTotals& totals) {
  boost::asio::steady_timer ended(client.get_executor(), boost::asio::steady_timer::time_point::max());
  bool running = true;
  spawn_relay(nullptr, client, backend, pipes, totals, [&] {
    running = false;
    ended.cancel();
  });
  // The directions refer to the sockets and totals the caller keeps in this coroutine's chain of frames: it must
  // not unwind before they end. If even this wait cannot be allocated, stop rather than leave them on a dead frame.
  try {
    while (running) co_await ended.async_wait(use_tuple);
  } catch (...) {
    std::terminate();
  }
}

}  // namespace poolgate::relay

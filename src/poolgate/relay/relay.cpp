#include "poolgate/relay/relay.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <optional>

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

void shutdown_write(tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
}

// How one direction ended, so the relay can tell the other side the same story.
enum class Ending { eof, source_reset, destination_gone, cancelled };

// What the two directions of one relay know of each other.
struct RelayState {
  int directions_running = 2;
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

boost::asio::awaitable<void> copy_direction(tcp::socket& from, tcp::socket& to, std::uint64_t& moved,
                                            RelayState& state);

// A connection holds a pipe only while bytes flow: before it waits for the source, the (empty) pipe goes back to
// the thread's cache. Idle connections (watches, most of a node's) then cost two descriptors, not six.
boost::asio::awaitable<void> splice_direction(tcp::socket& from, tcp::socket& to, PipePool& pipes,
                                              std::uint64_t& moved, RelayState& state) {
  std::optional<Pipe> pipe;
  std::size_t in_pipe = 0;
  Ending ending = Ending::eof;
  // A read that returned less than asked has most likely emptied the socket: wait for readiness first rather
  // than spend a splice() on EAGAIN. (Readiness is re-checked when the wait is armed, so nothing is missed.)
  bool probably_drained = false;
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
      if (auto [ec] = co_await from.async_wait(tcp::socket::wait_read, use_tuple); ec) {
        ending = Ending::cancelled;
        break;
      }
    }
    if (!pipe && !(pipe = pipes.acquire())) {
      // No descriptors for a pipe: the rest of this direction is copied through a buffer instead.
      co_await copy_direction(from, to, moved, state);
      co_return;
    }
    ssize_t in = ::splice(from.native_handle(), nullptr, pipe->write_end, nullptr, kChunk,
                          SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (in == 0) {
      ending = Ending::eof;
      break;
    }
    if (in < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        probably_drained = true;
        continue;
      }
      ending = from.is_open() ? Ending::source_reset : Ending::cancelled;
      break;
    }
    probably_drained = static_cast<std::size_t>(in) < kChunk;
    in_pipe += static_cast<std::size_t>(in);
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
        break;
      }
    }
    if (in_pipe > 0) {
      ending = to.is_open() ? Ending::destination_gone : Ending::cancelled;
      break;
    }
  }
  if (pipe) pipes.release(*pipe, in_pipe == 0);
  pass_on(ending, from, to, state);
}

boost::asio::awaitable<void> copy_direction(tcp::socket& from, tcp::socket& to, std::uint64_t& moved,
                                            RelayState& state) {
  auto buffer = std::make_unique<char[]>(kChunk);
  Ending ending = Ending::eof;
  for (;;) {
    auto [read_error, n] = co_await from.async_read_some(boost::asio::buffer(buffer.get(), kChunk), use_tuple);
    if (read_error == boost::asio::error::eof) break;
    if (read_error) {
      ending = from.is_open() && read_error != boost::asio::error::operation_aborted ? Ending::source_reset
                                                                                      : Ending::cancelled;
      break;
    }
    auto [write_error, written] = co_await boost::asio::async_write(to, boost::asio::buffer(buffer.get(), n),
                                                                    use_tuple);
    moved += written;
    if (write_error) {
      ending = to.is_open() && write_error != boost::asio::error::operation_aborted ? Ending::destination_gone
                                                                                    : Ending::cancelled;
      break;
    }
  }
  pass_on(ending, from, to, state);
}

}  // namespace

boost::asio::awaitable<void> relay(tcp::socket& client, tcp::socket& backend, PipePool& pipes,
                                   RelayTotals& totals) {
  using namespace boost::asio::experimental::awaitable_operators;
  // splice() needs O_NONBLOCK on the sockets themselves. Asio's connect already set it on the backend socket;
  // an accepted socket starts blocking.
  boost::system::error_code ignored;
  client.native_non_blocking(true, ignored);
  RelayState state;
  co_await (splice_direction(client, backend, pipes, totals.to_backend, state) &&
            splice_direction(backend, client, pipes, totals.to_client, state));
  close_quietly(client);
  close_quietly(backend);
}

}  // namespace poolgate::relay

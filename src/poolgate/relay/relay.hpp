// Moves bytes both ways between a client and its backend until both directions end: small messages by recv()/
// send() through a per-thread scratch buffer, streams by splice() through a pooled pipe (zero copy). A half-close
// is passed on as a half-close, a reset as a reset; at most one pipe (64 KiB) or 16 KiB is in flight per direction.
#pragma once

#include "poolgate/relay/pipe_pool.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <memory>

namespace poolgate::relay {

struct RelayTotals {
  std::uint64_t to_backend = 0;
  std::uint64_t to_client = 0;
};

// Sends what `to` takes now, without waiting: advances `data` and lowers `size` by what left, counted in `moved`.
// Returns 0 (`size` is then what did not fit in the socket's buffer) or the errno of the failure.
int send_now(boost::asio::ip::tcp::socket& to, const char*& data, std::size_t& size, std::uint64_t& moved);

// Sends the `size` bytes from `data` that send_now() left because `to`'s buffer was full: waits for room and
// sends until all have left, counted in `moved`. The coroutine of its own that waiting needs, so callers try
// send_now() first. It copies the bytes before its first wait, so `data` may be a per-thread buffer that others
// reuse meanwhile (co_await it at once). Returns 0, or the errno of the failure (ECANCELED when `to` was
// closed under it).
boost::asio::awaitable<int> send_rest(boost::asio::ip::tcp::socket& to, const char* data, std::size_t size,
                                      std::uint64_t& moved);

// Either socket may be blocking at the OS level: the relay makes both non-blocking when a stream starts.
// `pipes` must outlive the sockets' event loop: a direction destroyed with the loop gives its pipe back.
// Returns when both directions have ended or either side was reset or closed from outside (closing either
// socket from the owning thread ends the relay). Both sockets are closed on return.
boost::asio::awaitable<void> relay(boost::asio::ip::tcp::socket& client, boost::asio::ip::tcp::socket& backend,
                                   PipePool& pipes, RelayTotals& totals);

// The same relay, started and left running: each direction is a coroutine of its own, and `owner` (whatever
// holds the sockets, the totals and anything else the connection needs) is kept alive by them. When both have
// ended, both sockets are closed, `on_end` runs once on the sockets' thread, and then the owner is let go. An
// idle connection relayed this way costs no coroutine frame but its two directions'. If the event loop is
// destroyed first, `on_end` never runs and the owner is released with the directions.
void spawn_relay(std::shared_ptr<void> owner, boost::asio::ip::tcp::socket& client,
                 boost::asio::ip::tcp::socket& backend, PipePool& pipes, RelayTotals& totals,
                 std::function<void()> on_end);

}  // namespace poolgate::relay

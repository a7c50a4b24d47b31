// The lingering close of a client connection after poolgate's last response: send FIN, then read and discard
// what the client still sends, within bounds, before closing.
#pragma once

#include "poolgate/http/client_session.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>

namespace poolgate::http {

// Closing a socket with received bytes unread makes the kernel send a reset instead of a FIN, and a reset can
// destroy response bytes still on their way to the client (its kernel drops what it has not delivered). So
// the client gets our FIN first, and we read until it closes too, or until one of these bounds:
// - 2 s: a client that read our response and closes takes a round trip or two; one still sending after 2 s is
//   either malicious or gone, and waiting longer only holds a descriptor and a coroutine (slowloris).
// - 256 KiB: enough to absorb a refused request's header (64 KiB limit) plus the body or pipelined requests
//   already in flight; a client sending more than that quickly will not stop soon anyway.
inline constexpr auto kLingerTime = std::chrono::seconds(2);
inline constexpr std::size_t kLingerBytes = 256 * 1024;

// Shuts down the sending side of `client`, then discards what arrives until EOF, an error, a bound above, or
// the worker's drain (begin_drain cancels the read at once; a drain begun earlier skips the wait). Leaves the
// socket open: the caller closes it.
boost::asio::awaitable<void> linger_close(boost::asio::ip::tcp::socket& client, DrainState& drain);

}  // namespace poolgate::http

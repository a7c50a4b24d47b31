// Opening backend connections: the dial with a timeout, and the socket options both sides of a relay get.
#pragma once

#include "poolgate/config/duration.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace poolgate::pool {

// Connects `socket` to `target`, giving up after `timeout` (boost::asio::error::timed_out). On success the
// socket carries the backend options below. begin_dial() then finish_dial() when still connecting.
boost::asio::awaitable<boost::system::error_code> dial(boost::asio::ip::tcp::socket& socket,
                                                       const boost::asio::ip::tcp::endpoint& target,
                                                       config::Duration timeout);

// The synchronous first half of a dial: a non-blocking socket with the backend options, connect() started. On
// loopback and on most LANs the handshake has completed by the time connect() returns (it still says
// EINPROGRESS), which a zero-timeout poll() proves: such a dial ends here, with no trip through the event loop,
// no timer and no coroutine.
struct DialStart {
  boost::system::error_code error;  // failed: the socket is closed
  bool connected = false;           // neither: still connecting, see finish_dial()
};
DialStart begin_dial(boost::asio::ip::tcp::socket& socket, const boost::asio::ip::tcp::endpoint& target);

// Waits for a connect begun by begin_dial() to complete, at most `timeout`.
boost::asio::awaitable<boost::system::error_code> finish_dial(boost::asio::ip::tcp::socket& socket,
                                                              config::Duration timeout);

// Whether a failed dial or accept ran out of something on this machine (descriptors, buffers, memory) rather
// than being refused by the peer: such a failure says nothing about the backend's health.
bool is_local_resource_exhaustion(const boost::system::error_code& error);

// TCP_NODELAY and keep-alive (idle 30 s, interval 10 s, 3 probes), so a peer that vanished without a FIN
// is noticed within about a minute instead of holding its partner forever. Set on a listening socket, the
// options are inherited by every accepted client socket, which then needs no syscall of its own.
void set_client_socket_options(int fd);

// The client options plus TCP_USER_TIMEOUT, which also bounds how long unacknowledged data may wait on a
// silently dead API server (and, with keep-alive on, replaces the probe count in deciding when an idle peer is
// dead, so TCP_KEEPCNT is left out).
void set_backend_socket_options(int fd);

}  // namespace poolgate::pool

// Opening backend connections: the dial with a timeout, and the socket options both sides of a relay get.
#pragma once

#include "poolgate/config/duration.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace poolgate::pool {

// Connects `socket` to `target`, giving up after `timeout` (boost::asio::error::timed_out). On success the
// socket carries the backend options below.
boost::asio::awaitable<boost::system::error_code> dial(boost::asio::ip::tcp::socket& socket,
                                                       const boost::asio::ip::tcp::endpoint& target,
                                                       config::Duration timeout);

// Whether a failed dial or accept ran out of something on this machine (descriptors, buffers, memory) rather
// than being refused by the peer: such a failure says nothing about the backend's health.
bool is_local_resource_exhaustion(const boost::system::error_code& error);

// TCP_NODELAY and keep-alive (idle 30 s, interval 10 s, 3 probes), so a peer that vanished without a FIN
// is noticed within about a minute instead of holding its partner forever. Set on a listening socket, the
// options are inherited by every accepted client socket, which then needs no syscall of its own.
void set_client_socket_options(int fd);

// The client options plus TCP_USER_TIMEOUT, which also bounds how long unacknowledged data may wait on a
// silently dead API server.
void set_backend_socket_options(int fd);

}  // namespace poolgate::pool

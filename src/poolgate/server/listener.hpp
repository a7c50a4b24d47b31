// Opening the listening sockets: one per worker on the same address with SO_REUSEPORT, so the kernel spreads
// new connections over the workers without a shared accept lock.
#pragma once

#include "poolgate/config/address.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <stdexcept>
#include <vector>

namespace poolgate::server {

// A listen failure with a message for the operator ("127.0.0.1:6443 is already in use").
class ListenError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Sets whether `acceptor` holds each new connection back until the client's first bytes arrive
// (TCP_DEFER_ACCEPT; see AcceptDeferral for when). A client that stays silent is still accepted after about a
// second (one SYN-ACK retransmission). Returns the setsockopt() failure, if any.
boost::system::error_code defer_accept(boost::asio::ip::tcp::acceptor& acceptor, bool on);

// One acceptor per context, all bound to `address`. An empty host means every address (IPv6 dual-stack, or
// IPv4 where IPv6 is off). Port 0 is resolved once and shared, so all workers listen on the same port.
std::vector<boost::asio::ip::tcp::acceptor> open_listeners(const std::vector<boost::asio::io_context*>& contexts,
                                                           const config::HostPort& address);

}  // namespace poolgate::server

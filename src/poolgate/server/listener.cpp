#include "poolgate/server/listener.hpp"

#include "poolgate/balance/resolve.hpp"
#include "poolgate/pool/dialer.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace poolgate::server {
namespace {

using boost::asio::ip::tcp;
// How long (s) a deferring listener may hold back a connection whose client sends nothing: the kernel rounds it
// to one SYN-ACK retransmission, after which the connection is accepted as usual.
constexpr int kSilentClientWait = 1;

tcp::endpoint resolve_listen_address(const config::HostPort& address) {
  if (address.host.empty()) {
    // Dual-stack "all addresses" when the kernel has IPv6, plain IPv4 otherwise.
    boost::asio::io_context probe_context;
    tcp::socket probe(probe_context);
    boost::system::error_code ec;
    probe.open(tcp::v6(), ec);
    return ec ? tcp::endpoint(tcp::v4(), address.port) : tcp::endpoint(tcp::v6(), address.port);
  }
  boost::system::error_code ec;
  auto literal = boost::asio::ip::make_address(address.host, ec);
  if (!ec) return {literal, address.port};
  boost::asio::io_context context;
  tcp::resolver resolver(context);
  auto results = resolver.resolve(address.host, std::to_string(address.port),
                                  tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    throw ListenError("cannot resolve listen address " + address.to_string() + ": " +
                      (ec ? ec.message() : "no addresses"));
  }
  return results.begin()->endpoint();
}

std::string describe(const boost::system::error_code& ec, const tcp::endpoint& where) {
  const std::string place = balance::endpoint_key(where);
  if (ec == boost::asio::error::address_in_use) return "listen address " + place + " is already in use";
  if (ec == boost::asio::error::access_denied) {
    return "not permitted to listen on " + place + " (ports below 1024 need CAP_NET_BIND_SERVICE)";
  }
  return "cannot listen on " + place + ": " + ec.message();
}

tcp::acceptor open_one(boost::asio::io_context& context, const tcp::endpoint& where, bool reuse_port) {
  tcp::acceptor acceptor(context);
  boost::system::error_code ec;
  acceptor.open(where.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && where.address().is_v6() && where.address().is_unspecified()) {
    acceptor.set_option(boost::asio::ip::v6_only(false), ec);
  }
  if (!ec && reuse_port) {
    int one = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      ec.assign(errno, boost::system::system_category());
    }
  }
  // Accepted sockets inherit these, so the per-connection path sets no options of its own.
  if (!ec) pool::set_client_socket_options(acceptor.native_handle());
  if (!ec) acceptor.bind(where, ec);
  if (!ec) acceptor.listen(tcp::acceptor::max_listen_connections, ec);
  if (ec) throw ListenError(describe(ec, where));
  return acceptor;
}

}  // namespace

boost::system::error_code defer_accept(tcp::acceptor& acceptor, bool on) {
  const int seconds = on ? kSilentClientWait : 0;
  if (::setsockopt(acceptor.native_handle(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds) != 0) {
    return {errno, boost::system::system_category()};
  }
  return {};
}

std::vector<tcp::acceptor> open_listeners(const std::vector<boost::asio::io_context*>& contexts,
                                          const config::HostPort& address) {
  tcp::endpoint where = resolve_listen_address(address);
  std::vector<tcp::acceptor> acceptors;
  // SO_REUSEPORT would let us bind beside another process of the same user on the same port and split its
  // traffic silently. A first bind without it proves the port is free; that socket then serves worker 0.
  acceptors.push_back(open_one(*contexts.front(), where, false));
  where.port(acceptors.front().local_endpoint().port());
  if (contexts.size() > 1) {
    // Re-open worker 0's socket with SO_REUSEPORT now that we own the port: the first one closes, and the
    // reuseport group is formed before any client can connect.
    acceptors.front().close();
    acceptors.clear();
    for (boost::asio::io_context* context : contexts) acceptors.push_back(open_one(*context, where, true));
  }
  return acceptors;
}

}  // namespace poolgate::server

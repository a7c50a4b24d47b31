#include "poolgate/pool/dialer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace poolgate::pool {
namespace {

constexpr int kKeepAliveIdleSeconds = 30;
constexpr int kKeepAliveIntervalSeconds = 10;
constexpr int kKeepAliveProbes = 3;
constexpr unsigned kUserTimeoutMilliseconds =
    (kKeepAliveIdleSeconds + kKeepAliveIntervalSeconds * kKeepAliveProbes) * 1000;

void set_int_option(int fd, int level, int name, int value) {
  // Best effort: a socket that refuses an option still relays correctly, it only detects dead peers later.
  ::setsockopt(fd, level, name, &value, sizeof value);
}

}  // namespace

bool is_local_resource_exhaustion(const boost::system::error_code& error) {
  // Plain errno values of the system category. (Comparing against boost::system::errc goes through the
  // category's virtual equivalent(), which UBSan's vptr check rejects for Boost's category singletons.)
  if (error.category() != boost::system::system_category()) return false;
  switch (error.value()) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return true;
    default:
      return false;
  }
}

void set_client_socket_options(int fd) {
  set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  set_int_option(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
  set_int_option(fd, IPPROTO_TCP, TCP_KEEPIDLE, kKeepAliveIdleSeconds);
  set_int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL, kKeepAliveIntervalSeconds);
  set_int_option(fd, IPPROTO_TCP, TCP_KEEPCNT, kKeepAliveProbes);
  // Each read then says whether it left the socket empty (no bytes, no FIN pending), which lets the relay wait
  // for the next edge without re-arming epoll or spending a read on EAGAIN.
  set_int_option(fd, IPPROTO_TCP, TCP_INQ, 1);
}

void set_backend_socket_options(int fd) {
  set_client_socket_options(fd);
  set_int_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, static_cast<int>(kUserTimeoutMilliseconds));
}

boost::asio::awaitable<boost::system::error_code> dial(boost::asio::ip::tcp::socket& socket,
                                                       const boost::asio::ip::tcp::endpoint& target,
                                                       config::Duration timeout) {
  using namespace boost::asio::experimental::awaitable_operators;
  constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
  boost::system::error_code ec;
  if (socket.is_open()) socket.close(ec);
  socket.open(target.protocol(), ec);
  if (ec) co_return ec;
  set_backend_socket_options(socket.native_handle());

  boost::asio::steady_timer timer(socket.get_executor(), timeout);
  auto outcome = co_await (socket.async_connect(target, use_tuple) || timer.async_wait(use_tuple));
  if (outcome.index() == 1) {
    socket.close(ec);
    co_return boost::asio::error::timed_out;
  }
  auto [connect_error] = std::get<0>(outcome);
  if (connect_error) socket.close(ec);
  co_return connect_error;
}

}  // namespace poolgate::pool

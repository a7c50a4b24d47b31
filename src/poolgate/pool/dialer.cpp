#include "poolgate/pool/dialer.hpp"

#include "poolgate/relay/asio_internals.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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

namespace {

// TCP_NODELAY, keep-alive timing and TCP_INQ: what both sides of a relay need.
void set_relayed_socket_options(int fd) {
  set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  set_int_option(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
  set_int_option(fd, IPPROTO_TCP, TCP_KEEPIDLE, kKeepAliveIdleSeconds);
  set_int_option(fd, IPPROTO_TCP, TCP_KEEPINTVL, kKeepAliveIntervalSeconds);
  // Each read then says whether it left the socket empty (no bytes, no FIN pending), which lets the relay wait
  // for the next edge without re-arming epoll or spending a read on EAGAIN.
  set_int_option(fd, IPPROTO_TCP, TCP_INQ, 1);
}

boost::system::error_code system_error(int value) {
  return boost::system::error_code(value, boost::system::system_category());
}

// The outcome of a connect that said EINPROGRESS, as known right now: 0 connected, EINPROGRESS still
// connecting, else why it failed.
int connect_progress(int fd) {
  pollfd probe{fd, POLLOUT, 0};
  int ready = 0;
  do {
    ready = ::poll(&probe, 1, 0);
  } while (ready < 0 && errno == EINTR);  // a signal (SIGHUP, a reload) is no verdict on the backend
  if (ready < 0) return errno;
  if ((probe.revents & (POLLERR | POLLHUP)) != 0) {
    int pending = 0;
    socklen_t size = sizeof pending;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &size) < 0) return errno;
    return pending != 0 ? pending : ECONNRESET;
  }
  return (probe.revents & POLLOUT) != 0 ? 0 : EINPROGRESS;
}

}  // namespace

void set_client_socket_options(int fd) {
  set_relayed_socket_options(fd);
  set_int_option(fd, IPPROTO_TCP, TCP_KEEPCNT, kKeepAliveProbes);
}

void set_backend_socket_options(int fd) {
  set_relayed_socket_options(fd);
  set_int_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, static_cast<int>(kUserTimeoutMilliseconds));
}

DialStart begin_dial(boost::asio::ip::tcp::socket& socket, const boost::asio::ip::tcp::endpoint& target) {
  boost::system::error_code ec;
  if (socket.is_open()) socket.close(ec);
  const int fd = ::socket(target.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return {system_error(errno)};
  set_backend_socket_options(fd);
  int progress = ::connect(fd, target.data(), static_cast<socklen_t>(target.size())) == 0 ? 0 : errno;
  // EINTR: the connect goes on in the background, as after EINPROGRESS.
  if (progress == EINPROGRESS || progress == EINTR) progress = connect_progress(fd);
  if (progress != 0 && progress != EINPROGRESS) {
    ::close(fd);
    return {system_error(progress)};
  }
  socket.assign(target.protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    return {ec};
  }
  // The descriptor is poolgate's own and never duplicated, and it is non-blocking already: spare Asio the
  // epoll_ctl at close and the ioctl at the first asynchronous operation.
  relay::mark_never_duplicated(socket);
  relay::mark_already_non_blocking(socket);
  return {{}, progress == 0};
}

boost::asio::awaitable<boost::system::error_code> finish_dial(boost::asio::ip::tcp::socket& socket,
                                                              config::Duration timeout) {
  using namespace boost::asio::experimental::awaitable_operators;
  constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
  boost::system::error_code ignored;
  boost::asio::steady_timer timer(socket.get_executor(), timeout);
  for (;;) {
    // Writable means connected; a failed connect wakes the wait too (EPOLLERR), and SO_ERROR then says why.
    auto outcome = co_await (socket.async_wait(boost::asio::ip::tcp::socket::wait_write, use_tuple) ||
                             timer.async_wait(use_tuple));
    if (outcome.index() == 1) {
      socket.close(ignored);
      co_return boost::asio::error::timed_out;
    }
    auto [wait_error] = std::get<0>(outcome);
    if (wait_error) {
      socket.close(ignored);
      co_return wait_error;
    }
    const int progress = connect_progress(socket.native_handle());
    if (progress == 0) co_return boost::system::error_code{};
    // A wake-up with the handshake still going: the reactor reuses a closed socket's record for a new one, so an
    // event queued for the old socket can land here. Wait on, within the same deadline.
    if (progress == EINPROGRESS) continue;
    socket.close(ignored);
    co_return system_error(progress);
  }
}

boost::asio::awaitable<boost::system::error_code> dial(boost::asio::ip::tcp::socket& socket,
                                                       const boost::asio::ip::tcp::endpoint& target,
                                                       config::Duration timeout) {
  const DialStart start = begin_dial(socket, target);
  if (start.error || start.connected) co_return start.error;
  co_return co_await finish_dial(socket, timeout);
}

}  // namespace poolgate::pool

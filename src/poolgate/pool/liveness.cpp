#include "poolgate/pool/liveness.hpp"

#include <poll.h>

namespace poolgate::pool {

namespace {

// The poll() revents of `socket` now, without waiting; POLLNVAL when it is closed or poll fails.
short poll_now(boost::asio::ip::tcp::socket& socket) {
  if (!socket.is_open()) return POLLNVAL;
  pollfd probe{socket.native_handle(), POLLIN | POLLRDHUP, 0};
  if (::poll(&probe, 1, 0) < 0) return POLLNVAL;
  return probe.revents;
}

}  // namespace

bool is_alive(boost::asio::ip::tcp::socket& socket) {
  // POLLRDHUP: the peer sent FIN; POLLHUP/POLLERR: reset or fully closed. Plain POLLIN is queued data.
  return (poll_now(socket) & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) == 0;
}

bool is_quiet(boost::asio::ip::tcp::socket& socket) { return poll_now(socket) == 0; }

}  // namespace poolgate::pool

#include "poolgate/pool/liveness.hpp"

#include <poll.h>

namespace poolgate::pool {

bool is_alive(boost::asio::ip::tcp::socket& socket) {
  if (!socket.is_open()) return false;
  pollfd probe{socket.native_handle(), POLLIN | POLLRDHUP, 0};
  if (::poll(&probe, 1, 0) < 0) return false;
  // POLLRDHUP: the peer sent FIN; POLLHUP/POLLERR: reset or fully closed. Plain POLLIN is queued data.
  return (probe.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) == 0;
}

}  // namespace poolgate::pool

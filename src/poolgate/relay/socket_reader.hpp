// Reading a socket the way poolgate's relays and HTTP sessions do: recvmsg() with TCP_INQ, so a read says whether
// it left the socket empty, and a wait for the next edge (drained_wait.hpp) instead of a read spent on EAGAIN.
#pragma once

#include "poolgate/relay/drained_wait.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <sys/types.h>

#include <cstddef>
#include <utility>

namespace poolgate::relay {

// What a recv() brought, and whether it left the socket empty: TCP_INQ (set on every relayed socket, see
// pool::set_client_socket_options) reports the bytes still queued after the read, and counts a pending FIN as one.
struct Received {
  ssize_t size = 0;          // as recvmsg() returned it (errno tells a failure)
  bool empty_known = false;  // false when the kernel sent no TCP_INQ answer (an old kernel, a refused option)
  bool emptied = false;
};

// One non-blocking recvmsg() of at most `capacity` bytes into `buffer`.
Received receive(int fd, char* buffer, std::size_t capacity);

// Reads one socket for a reader that parses what arrives (HTTP mode). Without it, each read of a socket that an
// earlier read had emptied would first be tried at once by Asio (a recvmsg() spent on EAGAIN), two per proxied
// request. Here a read that left the socket provably empty is followed by DrainedWait's registration-free wait,
// an EAGAIN read by the same wait with the reactor's stale hint declined; see drained_wait.hpp for when
// emptiness is proven.
class SocketReader {
 public:
  SocketReader(boost::asio::ip::tcp::socket& socket, DrainedWait& drained) : socket_(socket), drained_(drained) {}

  // Another connection now sits in the socket. `proven_empty`: whoever read it last had left it empty (as
  // proven_empty() says), so it can be waited for at once.
  void restart(bool proven_empty) {
    proven_empty_ = proven_empty;
    inq_trusted_ = false;
  }
  // The last read left the socket empty, by TCP_INQ read after a wake-up that reported no error or hang-up
  // (which TCP_INQ would not count).
  bool proven_empty() const { return proven_empty_; }

  // Reads at most buffer.size() bytes, waiting for them if none are queued. Completes with the bytes read, or
  // with eof (the peer's FIN), the failure of the read, or operation_aborted when the socket was cancelled or
  // closed meanwhile.
  boost::asio::awaitable<std::pair<boost::system::error_code, std::size_t>> read_some(
      boost::asio::mutable_buffer buffer);

 private:
  boost::asio::ip::tcp::socket& socket_;
  DrainedWait& drained_;
  bool proven_empty_ = false;
  bool inq_trusted_ = false;  // the last wake-up reported input only (unknown before the first wait)
};

}  // namespace poolgate::relay

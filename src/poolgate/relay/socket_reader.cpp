#include "poolgate/relay/socket_reader.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/assert.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <tuple>

namespace poolgate::relay {

Received receive(int fd, char* buffer, std::size_t capacity) {
  iovec slice{buffer, capacity};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr message{};
  message.msg_iov = &slice;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  Received received;
  received.size = ::recvmsg(fd, &message, MSG_DONTWAIT);
  if (received.size <= 0) return received;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level == IPPROTO_TCP && header->cmsg_type == TCP_CM_INQ) {
      int queued = 0;
      std::memcpy(&queued, CMSG_DATA(header), sizeof queued);
      received.empty_known = true;
      received.emptied = queued == 0;
    }
  }
  return received;
}

boost::asio::awaitable<std::pair<boost::system::error_code, std::size_t>> SocketReader::read_some(
    boost::asio::mutable_buffer buffer) {
  constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
  // An EAGAIN read goes straight to the wait, with no suspension in between: what after_eagain asks for.
  bool after_eagain = false;
  BOOST_ASSERT(buffer.size() > 0);  // an empty read would look like the peer's FIN
  for (;;) {
    if (proven_empty_ || after_eagain) {
      auto [ec, must_read_until_eagain] = co_await drained_.async_wait_readable(socket_, after_eagain, use_tuple);
      if (ec) co_return std::pair{ec, std::size_t{0}};
      inq_trusted_ = !must_read_until_eagain;
      proven_empty_ = after_eagain = false;
    }
    if (!socket_.is_open()) co_return std::pair{boost::system::error_code(boost::asio::error::operation_aborted), 0};
    const Received received = receive(socket_.native_handle(), static_cast<char*>(buffer.data()), buffer.size());
    if (received.size > 0) {
      // Emptied but not trusted: the next read goes to EAGAIN (or the pending error) before any wait.
      proven_empty_ = received.empty_known && received.emptied && inq_trusted_;
      co_return std::pair{boost::system::error_code(), static_cast<std::size_t>(received.size)};
    }
    if (received.size == 0) co_return std::pair{boost::system::error_code(boost::asio::error::eof), 0};
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      co_return std::pair{boost::system::error_code(errno, boost::system::system_category()), std::size_t{0}};
    }
    after_eagain = true;
  }
}

}  // namespace poolgate::relay

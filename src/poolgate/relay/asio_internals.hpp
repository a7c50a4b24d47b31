// Where poolgate reaches past Asio's public interface into a socket's reactor state (Asio 1.81, epoll): the
// per-socket registration DrainedWait queues on (drained_wait.hpp also reads the events the reactor is handling),
// the flag that makes closing a socket cost an epoll_ctl, and the flag that makes Asio set O_NONBLOCK itself.
#pragma once

#include <boost/asio/detail/socket_ops.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace poolgate::relay {

// A socket's reactor registration lives in a protected member of basic_socket; naming it through a derived
// class yields a pointer to that member which applies to any tcp::socket.
inline auto& socket_internals(boost::asio::ip::tcp::socket& socket) {
  struct Access : boost::asio::ip::tcp::socket {
    static auto& of(boost::asio::ip::tcp::socket& s) { return (s.*&Access::impl_).get_implementation(); }
  };
  return Access::of(socket);
}

// Private members are reached through an explicit instantiation, which may name them: the friend function it
// defines hands the member pointer out. A Tag names the member's type and declares member_of(Tag). Each
// instantiation lives in one .cpp file: a program may hold only one.
namespace asio_access {
template <class Tag, typename Tag::type Member>
struct Grant {
  friend typename Tag::type member_of(Tag) { return Member; }
};
}  // namespace asio_access

// The same for a listening socket, whose implementation is private rather than protected (asio_internals.cpp).
boost::asio::detail::reactive_socket_service<boost::asio::ip::tcp>::implementation_type& socket_internals(
    boost::asio::ip::tcp::acceptor& acceptor);

// Asio marks every accepted socket "possibly duplicated", and so removes it from epoll with an explicit
// EPOLL_CTL_DEL before closing it (a dup'ed descriptor would keep the registration alive). poolgate never
// duplicates a client socket, so closing it is enough: one syscall less per client connection.
inline void mark_never_duplicated(boost::asio::ip::tcp::socket& socket) {
  socket_internals(socket).state_ &= static_cast<boost::asio::detail::socket_ops::state_type>(
      ~boost::asio::detail::socket_ops::possible_dup);
}

// A socket opened with SOCK_NONBLOCK and handed to Asio with assign(): without this, Asio's first asynchronous
// operation on it spends an ioctl(FIONBIO) setting what is already set. (Only Asio's own flag: synchronous calls
// through Asio still block as they would on any socket.)
inline void mark_already_non_blocking(boost::asio::ip::tcp::socket& socket) {
  socket_internals(socket).state_ |= boost::asio::detail::socket_ops::internal_non_blocking;
}

}  // namespace poolgate::relay

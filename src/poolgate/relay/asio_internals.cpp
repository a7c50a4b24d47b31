#include "poolgate/relay/asio_internals.hpp"

namespace poolgate::relay {
namespace asio_access {

struct AcceptorImplementation {
  using type = boost::asio::detail::io_object_impl<boost::asio::detail::reactive_socket_service<boost::asio::ip::tcp>,
                                                   boost::asio::any_io_executor> boost::asio::ip::tcp::acceptor::*;
  friend type member_of(AcceptorImplementation);
};
template struct Grant<AcceptorImplementation, &boost::asio::ip::tcp::acceptor::impl_>;

}  // namespace asio_access

boost::asio::detail::reactive_socket_service<boost::asio::ip::tcp>::implementation_type& socket_internals(
    boost::asio::ip::tcp::acceptor& acceptor) {
  return (acceptor.*member_of(asio_access::AcceptorImplementation{})).get_implementation();
}

}  // namespace poolgate::relay

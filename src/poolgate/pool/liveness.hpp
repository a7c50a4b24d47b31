// Whether a connected socket that we are not reading from is still usable: the peer has neither closed nor
// reset it. Queued data alone (a banner) does not make a socket dead.
#pragma once

#include <boost/asio/ip/tcp.hpp>

namespace poolgate::pool {

bool is_alive(boost::asio::ip::tcp::socket& socket);

}  // namespace poolgate::pool

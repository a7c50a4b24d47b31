// Whether a connected socket that we are not reading from is still usable: the peer has neither closed nor
// reset it. Queued data alone (a banner) does not make a socket dead.
#pragma once

#include <boost/asio/ip/tcp.hpp>

namespace poolgate::pool {

bool is_alive(boost::asio::ip::tcp::socket& socket);

// Alive and with nothing queued: what an idle HTTP keep-alive connection must be before it carries a request,
// since any byte a backend sends unasked (a late 408, garbage) would be read as the next response.
bool is_quiet(boost::asio::ip::tcp::socket& socket);

}  // namespace poolgate::pool

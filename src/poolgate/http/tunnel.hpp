// HTTP mode after a protocol switch (101 to an Upgrade, 2xx to CONNECT): the bytes of the new protocol that
// were read along with the HTTP messages, then the TCP relay for the rest of the connection.
#pragma once

#include "poolgate/relay/pipe_pool.hpp"
#include "poolgate/relay/relay.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>

namespace poolgate::http {

// Writes what `from_client` and `from_backend` hold to the other side, then relays until either side ends.
// Both buffers are left empty; the sockets are closed on return only if the relay ran (a failed write leaves
// them to the caller).
boost::asio::awaitable<void> tunnel(boost::asio::ip::tcp::socket& client, boost::asio::ip::tcp::socket& backend,
                                    boost::beast::flat_buffer& from_client, boost::beast::flat_buffer& from_backend,
                                    relay::PipePool& pipes, relay::RelayTotals& bytes);

}  // namespace poolgate::http

// HTTP mode's life of one client connection: read each request (Beast's parser), forward it to a pooled backend
// connection, stream the response back, and return the connection to the pool only when the response ended
// cleanly. Upgrade and CONNECT switch the pair to the TCP relay.
#pragma once

#include "poolgate/admin/stats.hpp"
#include "poolgate/balance/backend.hpp"
#include "poolgate/config/duration.hpp"
#include "poolgate/http/upstream.hpp"
#include "poolgate/relay/pipe_pool.hpp"
#include "poolgate/relay/relay.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace poolgate::http {

struct SessionSettings {
  config::Duration idle_timeout = std::chrono::seconds(60);    // waiting for the first byte of a request
  config::Duration header_timeout = std::chrono::seconds(10);  // from that byte to the end of the header
  // The worker's count of requests in flight (admin::WorkerStats::http_requests_in_flight: from the lease to the
  // response header), which its sessions keep. Null: not counted.
  admin::LocalGauge* requests_in_flight = nullptr;
};

// What the worker and the session know of each other during a drain. The worker sets `requested`; the session
// keeps `idle` true only while it waits for the first byte of a request or lingers after its last response
// (linger.hpp), so the worker knows whom it may let go.
struct DrainState {
  bool requested = false;
  bool idle = false;
};

// The sockets and the current endpoint live in the caller (the worker), which may close them from outside
// (drain timeout, endpoint removal); `target` names the endpoint of the request in flight, null between requests.
struct SessionSockets {
  boost::asio::ip::tcp::socket& client;
  const boost::asio::ip::tcp::endpoint& peer;  // the client's address, for X-Forwarded-For
  boost::asio::ip::tcp::socket& backend;
  balance::BackendPtr& target;
  relay::RelayTotals& bytes;
  DrainState& drain;
};

// Serves requests until the client leaves, asks to close, times out, sends something malformed, or switches
// protocols and the tunnel ends. Closes the client on return, with a lingering close (linger.hpp) after a
// response it chose to end the connection with; backend connections go back through `upstream`.
boost::asio::awaitable<void> serve_client(SessionSockets sockets, Upstream& upstream, const SessionSettings& settings,
                                          relay::PipePool& pipes, admin::HttpRefusals& refusals);

// Starts the drain of one session (on its thread): a client idle between requests, or lingering after its last
// response, is closed now; a request already begun is answered, with Connection: close unless its response
// header was already under way, and the client is closed after it (without lingering). A tunnel is left to
// the drain timeout, like a TCP-mode connection.
void begin_drain(SessionSockets sockets);

}  // namespace poolgate::http

// What an HTTP client session needs from its worker thread: a backend connection for each request (balanced,
// pooled, with failover), a fresh one for a retry, and a place to hand each back.
#pragma once

#include "poolgate/admin/stats.hpp"
#include "poolgate/balance/backend.hpp"
#include "poolgate/pool/endpoint_pool.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace poolgate::http {

class Upstream {
 public:
  virtual ~Upstream() = default;

  // Connects `socket` to the next endpoint in turn: an idle pooled connection, else a new dial, failing
  // over like TCP mode. `client` is watched so a client that left stops the search. Returns the endpoint (null:
  // none could be reached); `checkout` is filled in when the connection came from the pool (used_before: the
  // keep-alive race applies) and left as it was for a dial.
  virtual boost::asio::awaitable<balance::BackendPtr> lease(boost::asio::ip::tcp::socket& socket,
                                                            const boost::asio::ip::tcp::socket& client,
                                                            pool::Checkout& checkout) = 0;

  // A new connection to `backend` and no other (the one retry after a reused connection failed).
  virtual boost::asio::awaitable<bool> dial_fresh(boost::asio::ip::tcp::socket& socket,
                                                  const balance::BackendPtr& backend) = 0;

  // Takes the connection back (with the checkout it was leased under): into the pool when `reuse` allows and
  // there is room, else closed.
  virtual void give_back(boost::asio::ip::tcp::socket&& socket, const balance::Backend& backend, pool::Reuse reuse,
                         pool::Checkout checkout) = 0;

  virtual admin::EndpointStats& stats_of(const balance::Backend& backend) = 0;
};

}  // namespace poolgate::http

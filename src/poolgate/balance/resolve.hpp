// Turning configured endpoints into backends: names resolved to every address they have, at load time.
#pragma once

#include "poolgate/balance/backend.hpp"
#include "poolgate/config/address.hpp"

#include <vector>

namespace poolgate::balance {

struct ResolvedEndpoint {
  std::string key;     // the address as "ip:port" / "[ip6]:port"
  std::string origin;  // as configured
  boost::asio::ip::tcp::endpoint address;
};

// Every address of every endpoint, sorted by key, without duplicates. An endpoint whose name does not resolve
// is a ConfigError naming it (the whole set is refused, so a typo never silently shrinks the set).
std::vector<ResolvedEndpoint> resolve_endpoints(const std::vector<config::HostPort>& endpoints);

std::string endpoint_key(const boost::asio::ip::tcp::endpoint& address);

// The next generation of the set: backends whose key is in `previous` are carried over (same object: health
// and pool budget survive a reload); the others are new and start active.
BackendSetPtr next_backend_set(const std::vector<ResolvedEndpoint>& endpoints, const BackendSet* previous);

}  // namespace poolgate::balance

#include "poolgate/balance/resolve.hpp"

#include "poolgate/config/error.hpp"

#include <boost/asio/io_context.hpp>

#include <algorithm>

namespace poolgate::balance {

std::string endpoint_key(const boost::asio::ip::tcp::endpoint& address) {
  const std::string ip = address.address().to_string();
  const std::string host = address.address().is_v6() ? "[" + ip + "]" : ip;
  return host + ":" + std::to_string(address.port());
}

std::vector<ResolvedEndpoint> resolve_endpoints(const std::vector<config::HostPort>& endpoints) {
  std::vector<ResolvedEndpoint> resolved;
  boost::asio::io_context context;
  boost::asio::ip::tcp::resolver resolver(context);
  for (const config::HostPort& endpoint : endpoints) {
    boost::system::error_code ec;
    auto literal = boost::asio::ip::make_address(endpoint.host, ec);
    if (!ec) {
      boost::asio::ip::tcp::endpoint address(literal, endpoint.port);
      resolved.push_back({endpoint_key(address), endpoint.to_string(), address});
      continue;
    }
    auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port),
                                    boost::asio::ip::tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) {
      throw config::ConfigError("endpoint " + endpoint.to_string() + ": cannot resolve \"" + endpoint.host +
                                "\": " + (ec ? ec.message() : "no addresses"));
    }
    for (const auto& entry : results) {
      resolved.push_back({endpoint_key(entry.endpoint()), endpoint.to_string(), entry.endpoint()});
    }
  }
  std::sort(resolved.begin(), resolved.end(),
            [](const ResolvedEndpoint& a, const ResolvedEndpoint& b) { return a.key < b.key; });
  resolved.erase(std::unique(resolved.begin(), resolved.end(),
                             [](const ResolvedEndpoint& a, const ResolvedEndpoint& b) { return a.key == b.key; }),
                 resolved.end());
  return resolved;
}

BackendSetPtr next_backend_set(const std::vector<ResolvedEndpoint>& endpoints, const BackendSet* previous) {
  auto set = std::make_shared<BackendSet>();
  set->generation = previous ? previous->generation + 1 : 1;
  for (const ResolvedEndpoint& endpoint : endpoints) {
    BackendPtr kept = previous ? previous->find(endpoint.key) : nullptr;
    set->backends.push_back(kept ? kept : std::make_shared<Backend>(endpoint.key, endpoint.origin, endpoint.address));
  }
  return set;
}

}  // namespace poolgate::balance

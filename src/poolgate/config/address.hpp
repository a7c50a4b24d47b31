// Endpoint and listen addresses as people write them: "host:port", "[v6]:port", "https://host:port", ":port".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace poolgate::config {

struct HostPort {
  std::string host;  // without brackets; empty means "all addresses" (listen only)
  std::uint16_t port = 0;

  bool host_is_ipv6_literal() const;
  // "10.0.0.1:6443", "[fd00::2]:6443", "name:443"; the canonical form endpoints are sorted and logged by.
  std::string to_string() const;
  auto operator<=>(const HostPort&) const = default;
};

// An endpoint: "host:port", "[v6]:port", or a URL whose host:port is taken ("https://10.0.0.2:6443/").
// Throws ConfigError naming the text: empty, missing port, port out of range, unbalanced brackets, ...
HostPort parse_endpoint(std::string_view text);

// A listen address: like an endpoint, but the host may be empty (":6443" = all addresses). Port 0 lets the
// kernel choose, which tests use.
HostPort parse_listen_address(std::string_view text);

}  // namespace poolgate::config

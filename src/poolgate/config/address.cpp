#include "poolgate/config/address.hpp"

#include "poolgate/config/error.hpp"
#include "poolgate/config/quote.hpp"

#include <boost/url/parse.hpp>

#include <charconv>

namespace poolgate::config {
namespace {

[[noreturn]] void fail(std::string_view text, std::string_view why) {
  throw ConfigError("invalid address " + quoted(text) + ": " + std::string(why));
}

std::uint16_t parse_port(std::string_view text, std::string_view port, bool allow_zero) {
  if (port.empty()) fail(text, "missing port (expected host:port)");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size()) fail(text, "port is not a number");
  if (value > 65535 || (value == 0 && !allow_zero)) {
    fail(text, "port " + std::string(port) + " is out of range (1-65535)");
  }
  return static_cast<std::uint16_t>(value);
}

// The authority part ("host:port") of either form, checked and split. Boost.URL does the grammar (IPv6
// literals, percent-encoding); we add what an endpoint needs on top: a host, a port, no user info.
HostPort parse_authority_text(std::string_view text, std::string_view authority, bool allow_empty_host,
                              bool allow_zero_port) {
  if (authority.empty()) fail(text, "empty");
  if (authority.find('@') != std::string_view::npos) fail(text, "user information is not allowed");
  // Percent-encoding would be decoded into a host we could not write back into the file as it was read.
  if (authority.find('%') != std::string_view::npos) fail(text, "percent-encoded characters are not allowed");
  std::size_t open = authority.find('[');
  std::size_t close = authority.find(']');
  if ((open == std::string_view::npos) != (close == std::string_view::npos) ||
      (open != std::string_view::npos && close < open)) {
    fail(text, "unbalanced brackets around an IPv6 address");
  }
  if (open == std::string_view::npos && authority.find(':') != authority.rfind(':')) {
    fail(text, "IPv6 addresses must be written in brackets, e.g. [fd00::1]:6443");
  }

  HostPort result;
  if (allow_empty_host && authority.starts_with(':')) {
    result.port = parse_port(text, authority.substr(1), allow_zero_port);
    return result;
  }
  auto parsed = boost::urls::parse_authority(authority);
  if (!parsed) fail(text, "not a host:port");
  if (parsed->has_userinfo()) fail(text, "user information is not allowed");
  if (!parsed->has_port()) fail(text, "missing port (expected host:port)");
  result.port = parse_port(text, parsed->port(), allow_zero_port);
  switch (parsed->host_type()) {
    case boost::urls::host_type::ipv6:
      result.host = std::string(parsed->host_address());
      break;
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::name:
      result.host = std::string(parsed->host_address());
      break;
    default:
      fail(text, "unsupported host");
  }
  if (result.host.empty()) fail(text, "missing host");
  return result;
}

}  // namespace

bool HostPort::host_is_ipv6_literal() const { return host.find(':') != std::string::npos; }

std::string HostPort::to_string() const {
  std::string out = host_is_ipv6_literal() ? "[" + host + "]" : host;
  return out + ":" + std::to_string(port);
}

HostPort parse_endpoint(std::string_view text) {
  if (text.empty()) fail(text, "empty");
  if (text.find("://") != std::string_view::npos) {
    auto url = boost::urls::parse_uri(text);
    if (!url) fail(text, "not a valid URL");
    if (!url->has_authority()) fail(text, "URL has no host");
    // Boost.URL ends the port at the first non-digit and reads the rest as the path: "https://h:64o3/" would
    // silently become port 64. Whatever follows the authority must be a real path.
    if (!url->encoded_path().empty() && !url->encoded_path().starts_with('/')) {
      fail(text, "port is not a number");
    }
    return parse_authority_text(text, url->encoded_authority(), false, false);
  }
  return parse_authority_text(text, text, false, false);
}

HostPort parse_listen_address(std::string_view text) {
  return parse_authority_text(text, text, true, true);
}

}  // namespace poolgate::config

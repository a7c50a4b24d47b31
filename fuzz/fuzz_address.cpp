// Endpoint and listen addresses (config/address): any text is accepted or refused with a ConfigError, and an
// accepted endpoint written back with to_string() (as logs and the endpoints file do) reads as the same one.
#include "fuzz_support.hpp"

#include "poolgate/config/address.hpp"
#include "poolgate/config/error.hpp"

using namespace poolgate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  try {
    const config::HostPort endpoint = config::parse_endpoint(text);
    fuzz::require(!endpoint.host.empty() && endpoint.port != 0, "endpoint without host or port", text);
    fuzz::require(config::parse_endpoint(endpoint.to_string()) == endpoint, "to_string() does not read back",
                  endpoint.to_string());
  } catch (const config::ConfigError& error) {
    fuzz::require_clear_message(error.what(), "invalid address \"");
  }
  try {
    const config::HostPort listen = config::parse_listen_address(text);
    fuzz::require(config::parse_listen_address(listen.to_string()) == listen, "listen address does not read back",
                  listen.to_string());
  } catch (const config::ConfigError& error) {
    fuzz::require_clear_message(error.what(), "invalid address \"");
  }
  return 0;
}

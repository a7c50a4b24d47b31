// An EndpointSliceList answer (discovery/api_objects parse_endpoint_slice_list), as a hostile or broken API
// server could send it: a sorted, duplicate-free list of endpoints that read back from the endpoints file as
// written, or a DiscoveryError naming the object and field. The body also goes through status_message, as error
// answers do.
#include "fuzz_support.hpp"

#include "poolgate/config/address.hpp"
#include "poolgate/config/error.hpp"
#include "poolgate/discovery/api_objects.hpp"
#include "poolgate/discovery/error.hpp"

using namespace poolgate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  try {
    const std::vector<config::HostPort> endpoints = discovery::parse_endpoint_slice_list(text);
    std::string previous;
    for (const config::HostPort& endpoint : endpoints) {
      const std::string written = endpoint.to_string();
      fuzz::require(previous.empty() || previous < written, "list not sorted or not free of duplicates", text);
      previous = written;
      // Discovery writes this text into the endpoints file, which poolgate then reads like any other.
      try {
        fuzz::require(config::parse_endpoint(written) == endpoint, "endpoint does not read back", written);
      } catch (const config::ConfigError& error) {
        fuzz::require(false, "discovered endpoint refused by the endpoints file parser", error.what());
      }
    }
  } catch (const discovery::DiscoveryError& error) {
    fuzz::require_clear_message(error.what(), "EndpointSliceList: ");
  }
  fuzz::require_clear_message(discovery::status_message(text), "");
  return 0;
}

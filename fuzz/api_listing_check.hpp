// What both API-object fuzz targets check (EndpointSliceList and Endpoints answers): a sorted, duplicate-free list
// of endpoints that read back from the endpoints file as written, or a DiscoveryError naming the object; and the
// body also goes through status_message, as error answers do.
#pragma once

#include "fuzz_support.hpp"

#include "poolgate/config/address.hpp"
#include "poolgate/config/error.hpp"
#include "poolgate/discovery/api_objects.hpp"
#include "poolgate/discovery/error.hpp"

#include <string>
#include <vector>

namespace poolgate::fuzz {

using ListingParser = std::vector<config::HostPort> (*)(std::string_view json);

inline void check_api_listing(std::string_view text, ListingParser parse, std::string_view error_prefix) {
  try {
    const std::vector<config::HostPort> endpoints = parse(text);
    std::string previous;
    for (const config::HostPort& endpoint : endpoints) {
      const std::string written = endpoint.to_string();
      require(previous.empty() || previous < written, "list not sorted or not free of duplicates", text);
      previous = written;
      // Discovery writes this text into the endpoints file, which poolgate then reads like any other.
      try {
        require(config::parse_endpoint(written) == endpoint, "endpoint does not read back", written);
      } catch (const config::ConfigError& error) {
        require(false, "discovered endpoint refused by the endpoints file parser", error.what());
      }
    }
  } catch (const discovery::DiscoveryError& error) {
    require_clear_message(error.what(), error_prefix);
  }
  require_clear_message(discovery::status_message(text), "");
}

}  // namespace poolgate::fuzz

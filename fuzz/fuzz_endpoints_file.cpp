// The endpoints file (config/endpoints_file): any content is a sorted, duplicate-free, non-empty list or a
// ConfigError naming the file; the list rendered back (what discovery writes) parses to the same list.
#include "fuzz_support.hpp"

#include "poolgate/config/endpoints_file.hpp"
#include "poolgate/config/error.hpp"

#include <algorithm>

using namespace poolgate;

namespace {
constexpr std::string_view kOrigin = "/etc/kubernetes/k8s-apiserver-proxy.json";
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  try {
    const std::vector<config::HostPort> endpoints = config::parse_endpoints_json(text, kOrigin);
    fuzz::require(!endpoints.empty(), "empty endpoint list accepted", text);
    const auto by_text = [](const config::HostPort& a, const config::HostPort& b) {
      return a.to_string() < b.to_string();
    };
    fuzz::require(std::adjacent_find(endpoints.begin(), endpoints.end(), [&](const auto& a, const auto& b) {
                    return !by_text(a, b);
                  }) == endpoints.end(),
                  "list not sorted or not free of duplicates", text);
    const std::string rendered = config::render_endpoints_json(endpoints);
    fuzz::require(config::parse_endpoints_json(rendered, kOrigin) == endpoints, "rendered list does not read back",
                  rendered);
  } catch (const config::ConfigError& error) {
    fuzz::require_clear_message(error.what(), std::string(kOrigin) + ": ");
  }
  return 0;
}

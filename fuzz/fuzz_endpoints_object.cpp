// An Endpoints answer (discovery/api_objects parse_endpoints), as a hostile or broken API server could send it;
// the checks are in api_listing_check.hpp.
#include "api_listing_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  poolgate::fuzz::check_api_listing(poolgate::fuzz::as_text(data, size), &poolgate::discovery::parse_endpoints,
                                    "Endpoints: ");
  return 0;
}

// An EndpointSliceList answer (discovery/api_objects parse_endpoint_slice_list), as a hostile or broken API server
// could send it; the checks are in api_listing_check.hpp.
#include "api_listing_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  poolgate::fuzz::check_api_listing(poolgate::fuzz::as_text(data, size),
                                    &poolgate::discovery::parse_endpoint_slice_list, "EndpointSliceList: ");
  return 0;
}

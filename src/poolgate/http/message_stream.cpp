#include "poolgate/http/message_stream.hpp"

#include <memory>

namespace poolgate::http::detail {

char* staging_area() {
  thread_local const std::unique_ptr<char[]> staging(new char[kStagingSize]);
  return staging.get();
}

}  // namespace poolgate::http::detail

// The one exception type for bad configuration: its message already says where (file, flag, field) and what.
#pragma once

#include <stdexcept>
#include <string>

namespace poolgate::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace poolgate::config

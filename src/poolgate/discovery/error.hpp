// Errors of API server discovery. Each message is complete on its own: what was asked or read, and why it failed.
#pragma once

#include "poolgate/config/error.hpp"

#include <stdexcept>

namespace poolgate::discovery {

// One refresh failed (the API server did not answer usably, or its answer was malformed): logged, nothing changes.
class DiscoveryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The kubeconfig asks for something poolgate will never do (an exec or auth-provider credential plugin):
// discovery turns itself off instead of failing every refresh.
class UnsupportedKubeconfig : public config::ConfigError {
 public:
  using config::ConfigError::ConfigError;
};

}  // namespace poolgate::discovery

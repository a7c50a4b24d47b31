// Helpers shared by the config tests: the message of a thrown ConfigError, and readable HostPort failures.
#pragma once

#include "poolgate/config/address.hpp"
#include "poolgate/config/error.hpp"

#include <ostream>
#include <string>
#include <utility>

namespace poolgate::config {

// Found by gtest through argument-dependent lookup, so failed expectations print the host and port.
inline void PrintTo(const HostPort& value, std::ostream* os) {
  *os << "HostPort{\"" << value.host << "\", " << value.port << "}";
}

}  // namespace poolgate::config

namespace poolgate::unit {

// Calls `call`; returns the ConfigError's message, or a marker no sane expectation matches if none was thrown.
template <class Call>
std::string config_error_message(Call&& call) {
  try {
    std::forward<Call>(call)();
  } catch (const config::ConfigError& error) {
    return error.what();
  }
  return "<no ConfigError thrown>";
}

}  // namespace poolgate::unit

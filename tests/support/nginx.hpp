// A real nginx (Debian's) as an HTTP/1.1 backend for HTTP-mode tests: run in the foreground as a child process
// with its own configuration in a scratch directory. Every answer names the nginx connection that carried it.
#pragma once

#include "support/process.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace poolgate::test {

class NginxBackend {
 public:
  // Starts nginx under `dir` and waits until it accepts connections; throws if it does not come up.
  explicit NginxBackend(const std::filesystem::path& dir);

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // The body nginx answers GET / with on connection `connection` ("conn=<n>"), for tests to parse.
  static constexpr std::string_view kBodyPrefix = "conn=";

 private:
  std::uint16_t port_ = 0;
  std::unique_ptr<PoolgateProcess> process_;  // the generic child-process runner
};

}  // namespace poolgate::test

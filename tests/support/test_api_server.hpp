// A stand-in Kubernetes API server for discovery tests: real TLS on 127.0.0.1:<kernel-chosen port>, on its own
// thread. It requires a client certificate (or a bearer token), serves configurable JSON for the paths
// discovery asks, and counts what it was asked. Beast stays in the .cpp.
#pragma once

#include "support/tls_certs.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace poolgate::test {

struct TestApiServerOptions {
  enum class Auth { client_certificate, bearer_token };

  KeyAndCertificate server;  // the server's certificate (for IP 127.0.0.1) and key
  Auth auth = Auth::client_certificate;
  std::string client_ca_pem;  // client_certificate: client certificates must chain to this CA
  std::string token;          // bearer_token: the one token accepted; anything else gets 401
  std::string bind_address = "127.0.0.1";  // any loopback address the server certificate names
};

class TestApiServer {
 public:
  static constexpr std::string_view kSlicesPath = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices";
  static constexpr std::string_view kEndpointsPath = "/api/v1/namespaces/default/endpoints/kubernetes";

  explicit TestApiServer(TestApiServerOptions options);
  ~TestApiServer();
  TestApiServer(const TestApiServer&) = delete;
  TestApiServer& operator=(const TestApiServer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept;
  // "127.0.0.1:PORT" (the bind address and port), as an endpoints file lists it.
  [[nodiscard]] std::string address() const;

  // Answers authorised GETs of `path` (the query is ignored) with `status` and the JSON `body`. A path without
  // a response gets a 404 Status object, like a real API server for an unknown resource.
  void respond(std::string_view path, unsigned status, std::string body);

  // While held, requests are read (and counted) but answered only once released, so a test can act while
  // a client waits for its answer.
  void hold_responses(bool held);

  // Requests received (authorised or not) for `path`, and for every path.
  [[nodiscard]] std::size_t requests(std::string_view path) const;
  [[nodiscard]] std::size_t total_requests() const;
  // Every request target as sent (path and query), in order of arrival.
  [[nodiscard]] std::vector<std::string> targets() const;
  // TLS handshakes that completed, and those that failed (an untrusted or missing client certificate, a client
  // that rejected the server's certificate).
  [[nodiscard]] std::size_t handshakes() const;
  [[nodiscard]] std::size_t failed_handshakes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace poolgate::test

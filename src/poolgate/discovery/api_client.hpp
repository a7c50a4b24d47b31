// An HTTPS client for the Kubernetes API, set up from a kubeconfig's credentials. Beast and OpenSSL stay in the
// .cpp: this header is cheap to include.
#pragma once

#include "poolgate/config/duration.hpp"
#include "poolgate/discovery/kubeconfig.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <string>

namespace poolgate::discovery {

// One API server to ask: dialed at `address`, its certificate checked against `verify_host` (an IP address,
// or the host name the endpoint was configured with) unless the kubeconfig sets tls-server-name.
struct ApiServer {
  std::string key;  // "10.0.0.1:6443", "[fd00::1]:6443": logs and the Host header
  boost::asio::ip::tcp::endpoint address;
  std::string verify_host;
};

struct HttpResponse {
  unsigned status = 0;
  std::string reason;  // "Unauthorized"
  std::string body;
};

class ApiClient {
 public:
  // Loads the CA, client certificate and key from memory. Throws config::ConfigError naming the kubeconfig
  // field when one is not usable (not PEM, key does not match the certificate).
  explicit ApiClient(const Kubeconfig& kubeconfig);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // One GET on a fresh TLS connection; connect, handshake, request and response together must finish within
  // `timeout`. Any HTTP status is a response; everything else throws DiscoveryError with the reason
  // ("connect: Connection refused", "TLS: the server certificate is not trusted: ...", "no answer within 10s").
  // The client must outlive the returned awaitable.
  boost::asio::awaitable<HttpResponse> get(ApiServer server, std::string target, config::Duration timeout) const;

 private:
  struct State;
  std::shared_ptr<const State> state_;
};

}  // namespace poolgate::discovery

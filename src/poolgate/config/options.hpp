// Everything poolgate is told on its command line, with the defaults of k8s-apiserver-proxy.
#pragma once

#include "poolgate/config/address.hpp"
#include "poolgate/config/duration.hpp"

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace poolgate::config {

struct Options {
  HostPort listen{"", 6443};
  std::optional<std::string> endpoints_file = std::string("/etc/kubernetes/k8s-apiserver-proxy.json");
  std::vector<HostPort> static_endpoints;  // --endpoint, repeatable
  std::string kubeconfig = "/etc/kubernetes/kubelet.conf";
  Duration refresh_interval = std::chrono::seconds(30);
  unsigned threads = 0;  // resolved to the CPU count by parse_command_line
  Duration connect_timeout = std::chrono::seconds(10);
  Duration monitor_interval = std::chrono::minutes(1);
  Duration drain_timeout = std::chrono::seconds(30);
  std::string log_level = "info";
  unsigned pool_max_per_endpoint = 10;
  Duration pool_max_idle = std::chrono::minutes(5);
  Duration pool_cleanup_interval = std::chrono::minutes(1);
  Duration removed_endpoint_grace = std::chrono::seconds(5);
  unsigned max_connections = 0;  // concurrent clients, all threads together; 0: unlimited
  // The admin HTTP endpoint (/metrics, /healthz, /readyz); nullopt: off (--admin-listen "").
  std::optional<HostPort> admin_listen = HostPort{"127.0.0.1", 9778};
  std::string log_format = "text";  // text or json
  // tcp: relay bytes, a backend connection serves one client. http: parse HTTP/1.1 and reuse backend
  // connections across requests and clients where the framing shows where a response ends.
  std::string mode = "tcp";
  Duration http_idle_timeout = std::chrono::seconds(60);    // client silent between requests
  Duration http_header_timeout = std::chrono::seconds(10);  // from a request's first byte to its last header
  // Under load, how long a worker waits to gather events before looking again (server/event_loop.hpp); 0: never.
  Duration http_coalesce_wait = std::chrono::microseconds(30);
};

// What the command line asks for: run with these options, or exit now (after --help, --version, or an
// error that has already been printed) with this status.
struct ParsedCommandLine {
  std::optional<Options> options;
  int exit_code = 0;
};

// Usage, --help and --version text go to `out`, error messages to `err` (std::cout and std::cerr for poolgate
// itself; tests and the fuzz target capture or discard them). Never exits the process.
ParsedCommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out, std::ostream& err);
ParsedCommandLine parse_command_line(int argc, const char* const* argv);

}  // namespace poolgate::config

// poolgate's entry point: parse the command line, set up logging, run the proxy. Everything else lives in the
// poolgate_core library so tests and benchmarks use the same code.
#include "poolgate/config/options.hpp"
#include "poolgate/server/logging.hpp"
#include "poolgate/server/proxy.hpp"

#include <csignal>

int main(int argc, char** argv) {
  // A write to a peer that has gone must come back as EPIPE to the relay, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  auto parsed = poolgate::config::parse_command_line(argc, argv);
  if (!parsed.options) return parsed.exit_code;
  poolgate::server::setup_logging(parsed.options->log_level, parsed.options->log_format);
  return poolgate::server::Proxy(std::move(*parsed.options)).run();
}

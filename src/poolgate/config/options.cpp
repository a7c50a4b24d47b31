#include "poolgate/config/options.hpp"

#include "poolgate/config/error.hpp"
#include "poolgate/version.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <thread>

namespace poolgate::config {
namespace {

// Registers a flag whose value is a Go duration, parsed into `target` with our own error text.
void add_duration(CLI::App& app, const std::string& name, Duration& target, const std::string& help) {
  app.add_option_function<std::string>(
         name, [&target, name](const std::string& text) {
           try {
             target = parse_duration(text);
           } catch (const ConfigError& error) {
             throw CLI::ValidationError(name, error.what());
           }
         },
         help)
      ->type_name("DURATION")
      ->default_str(format_duration(target));
}

}  // namespace

ParsedCommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  Options options;
  CLI::App app{
      "poolgate: a TCP proxy with a warm backend connection pool.\n"
      "A drop-in replacement for k8s-apiserver-proxy: forwards each client connection to one of the\n"
      "endpoints (round robin, failover to the next), keeping already-connected backend sockets ready."};
  app.set_version_flag("--version", std::string("poolgate ") + kVersion);
  app.get_formatter()->column_width(34);
  app.footer(
      "Durations are Go-style: 500ms, 15s, 1m, 1h30m.\n"
      "Signals: SIGHUP re-reads the endpoints file; SIGTERM/SIGINT drain, then exit.\n"
      "Exit status: 0 after a clean drain, 1 listen or admin address in use or not permitted,\n"
      "2 bad flag or endpoints file.");

  std::string listen_text = ":6443";
  app.add_option("--listen", listen_text,
                 "Address to accept clients on: host:port, [v6]:port, or :port for all addresses")
      ->type_name("ADDR")
      ->default_str(listen_text);
  std::string endpoints_file = *options.endpoints_file;
  auto* endpoints_flag =
      app.add_option("--endpoints", endpoints_file,
                     "JSON file {\"endpoints\": [\"host:port\", ...]}, watched and applied live")
          ->type_name("FILE")
          ->default_str(endpoints_file);
  std::vector<std::string> endpoint_texts;
  app.add_option("--endpoint", endpoint_texts,
                 "A backend HOST:PORT (repeatable); without --endpoints, no file is read")
      ->type_name("HOST:PORT");
  app.add_option("--kubeconfig", options.kubeconfig,
                 "Kubeconfig used to discover the API servers (off when the file is absent)")
      ->type_name("FILE")
      ->default_str(options.kubeconfig);
  add_duration(app, "--refresh-interval", options.refresh_interval,
               "How often discovery asks the cluster for the API servers; 0 disables");
  app.add_option("--threads", options.threads, "Worker threads, each with its own listener and pools")
      ->type_name("N")
      ->default_str("CPUs")
      ->check(CLI::Range(1u, 1024u).description(""));
  add_duration(app, "--connect-timeout", options.connect_timeout, "Timeout of one backend dial");
  add_duration(app, "--monitor-interval", options.monitor_interval,
               "Longest wait between probes of an inactive endpoint (probes back off from 1s)");
  add_duration(app, "--drain-timeout", options.drain_timeout,
               "On SIGTERM/SIGINT, how long open connections may finish before they are closed");
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn or error")
      ->type_name("LEVEL")
      ->default_str(options.log_level)
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}).description(""));
  app.add_option("--pool-max-per-endpoint", options.pool_max_per_endpoint,
                 "Most idle warm connections per endpoint, all threads together; 0 turns pooling off")
      ->type_name("N")
      ->default_str(std::to_string(options.pool_max_per_endpoint))
      ->check(CLI::Range(0u, 100000u).description(""));
  add_duration(app, "--pool-max-idle", options.pool_max_idle,
               "A warm connection unused for this long is closed");
  add_duration(app, "--pool-cleanup-interval", options.pool_cleanup_interval,
               "How often idle warm connections are checked for expiry");
  add_duration(app, "--removed-endpoint-grace", options.removed_endpoint_grace,
               "Connections to an endpoint removed from the set are closed after this long");
  app.add_option("--max-connections", options.max_connections,
                 "Most concurrent clients, all threads together; beyond it new clients wait in the listen "
                 "backlog; 0 is unlimited")
      ->type_name("N")
      ->default_str(std::to_string(options.max_connections))
      ->check(CLI::Range(0u, 10000000u).description(""));
  std::string admin_listen_text = options.admin_listen->to_string();
  app.add_option("--admin-listen", admin_listen_text,
                 "Admin HTTP endpoint (/metrics, /healthz, /readyz); \"\" turns it off")
      ->type_name("ADDR")
      ->default_str(admin_listen_text);
  app.add_option("--log-format", options.log_format, "text, or json (one object per line)")
      ->type_name("FORMAT")
      ->default_str(options.log_format)
      ->check(CLI::IsMember({"text", "json"}).description(""));

  app.add_option("--mode", options.mode,
                 "tcp: relay bytes (TLS passes through); http: HTTP/1.1 with backend keep-alive reuse")
      ->type_name("MODE")
      ->default_str(options.mode)
      ->check(CLI::IsMember({"tcp", "http"}).description(""));
  add_duration(app, "--http-idle-timeout", options.http_idle_timeout,
               "HTTP mode: close a client connection silent this long between requests");
  add_duration(app, "--http-header-timeout", options.http_header_timeout,
               "HTTP mode: close a client whose request header takes longer than this (slowloris)");
  add_duration(app, "--http-coalesce-wait", options.http_coalesce_wait,
               "HTTP mode, with 8 or more requests in flight on a thread: after handling what is ready, wait "
               "this long for more before looking again, so a busy thread wakes once per batch, not per event; "
               "0 turns it off, at most 1ms");

  try {
    app.parse(argc, argv);
    options.listen = parse_listen_address(listen_text);
    if (admin_listen_text.empty()) {
      options.admin_listen.reset();
    } else {
      try {
        options.admin_listen = parse_listen_address(admin_listen_text);
      } catch (const ConfigError& error) {
        throw CLI::ValidationError("--admin-listen", error.what());
      }
    }
    for (const std::string& text : endpoint_texts) {
      try {
        options.static_endpoints.push_back(parse_endpoint(text));
      } catch (const ConfigError& error) {
        throw CLI::ValidationError("--endpoint", error.what());
      }
    }
    // k8s-apiserver-proxy semantics: --endpoint alone means "these and nothing else".
    if (endpoints_flag->count() > 0 || options.static_endpoints.empty()) {
      options.endpoints_file = endpoints_file;
    } else {
      options.endpoints_file.reset();
    }
    for (auto [name, value] : {std::pair{"--pool-cleanup-interval", options.pool_cleanup_interval},
                               std::pair{"--monitor-interval", options.monitor_interval},
                               std::pair{"--http-idle-timeout", options.http_idle_timeout},
                               std::pair{"--http-header-timeout", options.http_header_timeout}}) {
      if (value <= Duration::zero()) throw CLI::ValidationError(name, "must be greater than 0");
    }
    // Longer would hold a busy thread's requests back for more than it gathers.
    if (options.http_coalesce_wait > std::chrono::milliseconds(1)) {
      throw CLI::ValidationError("--http-coalesce-wait", "must be at most 1ms, not " +
                                                             format_duration(options.http_coalesce_wait));
    }
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error, out, err);
    return {std::nullopt, code == 0 ? 0 : 2};
  } catch (const ConfigError& error) {
    err << "poolgate: --listen: " << error.what() << "\n";
    return {std::nullopt, 2};
  }
  if (options.threads == 0) options.threads = std::max(1u, std::thread::hardware_concurrency());
  return {std::move(options), 0};
}

ParsedCommandLine parse_command_line(int argc, const char* const* argv) {
  return parse_command_line(argc, argv, std::cout, std::cerr);
}

}  // namespace poolgate::config

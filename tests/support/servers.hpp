// Real loopback TCP backends for poolgate to forward to: echo, banner/tagged echo, and one that closes
// connections left unused (a backend idle timeout). Each runs its own poll loop thread.
#pragma once

#include "support/fd.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace poolgate::test {

struct ServerOptions {
  // Bytes sent as soon as a connection is accepted, given the connection's 1-based number; none if unset.
  std::function<std::string(std::uint64_t connection_number)> greeting;
  // If non-zero: every period, close each connection that has not received a single byte yet. Closing in
  // sweeps (not per connection age) keeps the moments a backend may drop a pooled socket predictable, so a
  // test can send clients right after a sweep without racing the next one.
  std::chrono::milliseconds close_unused_every{0};
};

// A TCP server on 127.0.0.1:<kernel-chosen port> that echoes every byte it receives. When the peer shuts
// down its write side, the server finishes echoing and then closes, so half-close is observable end to end.
class LoopbackServer {
 public:
  explicit LoopbackServer(ServerOptions options = {});
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  // "127.0.0.1:PORT", the form poolgate's --endpoint and endpoints file take.
  [[nodiscard]] std::string address() const;

  [[nodiscard]] std::size_t accepted_count() const noexcept { return accepted_.load(); }
  [[nodiscard]] std::size_t open_count() const noexcept { return open_.load(); }
  // Sweeps done so far, and connections they closed (see ServerOptions::close_unused_every).
  [[nodiscard]] std::size_t sweep_count() const noexcept { return sweeps_.load(); }
  [[nodiscard]] std::size_t closed_unused_count() const noexcept { return closed_unused_.load(); }
  // Waits until the next sweep has run: a warm connection the proxy holds then is dead, or has a whole period
  // before the next. False if none ran within `timeout`.
  [[nodiscard]] bool wait_for_next_sweep(std::chrono::milliseconds timeout) const;
  // Connections that ended because the peer reset them (ECONNRESET), rather than with a FIN.
  [[nodiscard]] std::size_t resets_seen() const noexcept { return resets_seen_.load(); }

  // Closes only the listening socket: new connects are refused, open connections keep being served.
  void close_listener();
  // Aborts every open connection with a TCP reset.
  void reset_connections();
  // Closes the listener and every connection and ends the thread, like a killed backend. Idempotent.
  void stop();

 private:
  struct Connection;

  void run();
  void run_in_loop(std::function<void()> command);
  void run_pending_commands();
  void accept_new_connections();
  void sweep_unused_connections();
  void service(Connection& connection, short revents);  // reads, echoes, closes after half-close
  void close_connection(Connection& connection);
  void close_after_error(Connection& connection, int error);

  ServerOptions options_;
  UniqueFd listener_;
  UniqueFd wakeup_;  // eventfd that interrupts poll() when a command is queued
  std::uint16_t port_ = 0;
  std::vector<std::unique_ptr<Connection>> connections_;  // touched only by the loop thread
  bool stopping_ = false;                                 // touched only by the loop thread

  std::mutex commands_mutex_;
  std::vector<std::function<void()>> commands_;

  std::atomic<std::size_t> accepted_{0};
  std::atomic<std::size_t> open_{0};
  std::atomic<std::size_t> sweeps_{0};
  std::atomic<std::size_t> closed_unused_{0};
  std::atomic<std::size_t> resets_seen_{0};
  std::thread thread_;
};

// Echoes every byte back.
std::unique_ptr<LoopbackServer> start_echo_server();
// Sends "banner-<id>\n" on accept, then echoes; ids are unique across every banner server in the process.
std::unique_ptr<LoopbackServer> start_banner_echo_server();
// Sends "<name>\n" on accept, then echoes, so a client can tell which backend it reached.
std::unique_ptr<LoopbackServer> start_tagged_echo_server(std::string name);
// Echoes, and every `period` closes the connections that have not received a byte (idle pooled sockets).
std::unique_ptr<LoopbackServer> start_unused_closing_echo_server(std::chrono::milliseconds period);

}  // namespace poolgate::test

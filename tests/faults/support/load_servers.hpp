// Loopback peers built for the fault scenarios: an epoll echo server for thousands of connections (on a port of
// its choosing or a fixed one, so a "dead" endpoint can come back at the same address), a server that streams a
// long pattern into every connection, and a listener that answers no SYN at all.
#pragma once

#include "support/fd.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace poolgate::test {

// Echoes every byte; after the peer's FIN it finishes echoing and closes. One epoll thread.
class LoadEchoServer {
 public:
  // `port` 0: a kernel-chosen one. A fixed port is bound with SO_REUSEADDR, so it can be taken again at once.
  explicit LoadEchoServer(std::uint16_t port = 0);
  ~LoadEchoServer();
  LoadEchoServer(const LoadEchoServer&) = delete;
  LoadEchoServer& operator=(const LoadEchoServer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::size_t accepted_count() const noexcept { return accepted_.load(); }
  [[nodiscard]] std::size_t open_count() const noexcept { return open_.load(); }
  [[nodiscard]] std::size_t resets_seen() const noexcept { return resets_.load(); }

 private:
  struct Connection;
  void run();
  void accept_all();
  void service(Connection& connection, std::uint32_t events);
  void update_interest(Connection& connection);
  void close_connection(Connection& connection);

  UniqueFd listener_;
  UniqueFd epoll_;
  UniqueFd stop_event_;
  std::uint16_t port_ = 0;
  // Touched only by the server's thread.
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Connection>> graveyard_;  // closed this round, freed after it
  std::atomic<std::size_t> accepted_{0};
  std::atomic<std::size_t> open_{0};
  std::atomic<std::size_t> resets_{0};
  std::thread thread_;
};

// Sends `bytes_each` bytes of the pattern stream `seed` to every connection it accepts, as fast as the peer
// takes them, then closes it. It never reads: a peer that sends anything gets a reset at the end.
class StreamServer {
 public:
  StreamServer(std::uint64_t seed, std::uint64_t bytes_each);
  ~StreamServer();
  StreamServer(const StreamServer&) = delete;
  StreamServer& operator=(const StreamServer&) = delete;

  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Bytes written into sockets so far, over every connection.
  [[nodiscard]] std::uint64_t bytes_sent() const noexcept { return sent_.load(); }
  [[nodiscard]] std::size_t finished_count() const noexcept { return finished_.load(); }

 private:
  void run();

  std::uint64_t seed_;
  std::uint64_t bytes_each_;
  UniqueFd listener_;
  UniqueFd stop_event_;
  std::uint16_t port_ = 0;
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::size_t> finished_{0};
  std::thread thread_;
};

// A listener nobody accepts from, with its accept queue filled (listen backlog 0, one connection in it), so
// the kernel drops every further SYN: a connect to it hangs until the connecting side gives up, like an API
// server whose host vanished or is overloaded. The constructor checks that a connect really hangs.
class SilentListener {
 public:
  SilentListener();
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  // Accepts one queued connection: the queue then has room, and the next SYN that arrives (a retransmission,
  // about a second after the first) is answered.
  void make_room_for_one();

 private:
  UniqueFd listener_;
  std::vector<UniqueFd> queued_;  // connected, never accepted: they keep the accept queue full
  std::uint16_t port_ = 0;
};

}  // namespace poolgate::test

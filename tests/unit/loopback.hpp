// Loopback TCP helpers for the pool and liveness tests: a server that keeps the server side of every connection,
// connected socket pairs, and deadline-bounded waiting (the only way these tests wait for anything).
#pragma once

#include "support/wait.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace poolgate::unit {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// How long anything a test expects to happen may take before the test gives up and fails.
inline constexpr std::chrono::milliseconds kPatience = 5s;

// Polls `condition` until it holds (true) or `timeout` has passed (false): the shared deadline poll, with the
// unit tests' patience as default. For state the kernel changes on its own; an io_context needs run_until.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = kPatience) {
  return poolgate::test::wait_until(condition, timeout, 1ms);
}

// Runs `io` in short slices until `condition` holds (true) or `timeout` has passed (false).
template <class Condition>
bool run_until(asio::io_context& io, Condition condition, std::chrono::milliseconds timeout = kPatience) {
  return poolgate::test::run_until(io, condition, timeout);
}

// Runs `io` for `duration`: gives events that must NOT change anything time to happen.
inline void run_for(asio::io_context& io, std::chrono::milliseconds duration) {
  const auto deadline = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_until(deadline);
  }
}

// Closes `socket` with SO_LINGER 0, so its peer gets a reset instead of an orderly FIN.
inline void close_with_reset(tcp::socket& socket) {
  socket.set_option(asio::socket_base::linger(true, 0));
  socket.close();
}

// Waits up to `timeout` for `socket` to report any of `events` (poll(2) flags); returns the events seen.
inline short wait_for_events(tcp::socket& socket, short events, std::chrono::milliseconds timeout = kPatience) {
  short seen = 0;
  eventually(
      [&] {
        pollfd probe{socket.native_handle(), events, 0};
        if (::poll(&probe, 1, 0) > 0) seen = probe.revents;
        return seen != 0;
      },
      timeout);
  return seen;
}

// Whether the peer of `socket` ends the stream (FIN or reset) within `timeout`. Consumes whatever data comes
// before the end.
inline bool sees_end_of_stream(tcp::socket& socket, std::chrono::milliseconds timeout = kPatience) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (wait_for_events(socket, POLLIN | POLLRDHUP, timeout) == 0) return false;
    char buffer[256];
    boost::system::error_code ec;
    socket.read_some(asio::buffer(buffer), ec);
    if (ec) return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
  return false;
}

// Reads exactly `size` bytes from `socket`, which must all arrive within `timeout` ("" if they do not).
inline std::string read_exactly(tcp::socket& socket, std::size_t size, std::chrono::milliseconds timeout = kPatience) {
  if (!eventually([&] { return socket.available() >= size; }, timeout)) return "";
  std::string data(size, '\0');
  asio::read(socket, asio::buffer(data));
  return data;
}

inline std::uint16_t local_port(const tcp::socket& socket) { return socket.local_endpoint().port(); }

// Both ends of one loopback TCP connection, made with blocking calls (no io_context needs to run).
struct SocketPair {
  tcp::socket client;
  tcp::socket server;
};

inline SocketPair connected_pair(asio::io_context& io) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  tcp::socket server = acceptor.accept();
  return {std::move(client), std::move(server)};
}

// An address on loopback where nothing listens, so a dial to it is refused.
inline tcp::endpoint refusing_endpoint(asio::io_context& io) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  return acceptor.local_endpoint();  // closed when `acceptor` goes out of scope
}

// A server on 127.0.0.1 at a kernel-chosen port, accepting on `io` for as long as it lives. It keeps the server
// side of every connection so tests can find a client's peer, talk through it, or close it.
class LoopbackServer {
 public:
  explicit LoopbackServer(asio::io_context& io) : acceptor_(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    accept_next();
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }

  // Every connection accepted from now on is sent `greeting` at once, as a server that speaks first would.
  void greet_with(std::string greeting) { greeting_ = std::move(greeting); }
  // Every connection accepted from now on is closed at once, as an overloaded or misconfigured server would.
  void close_connections_at_once() { close_at_once_ = true; }

  std::size_t accepted_count() const { return connections_.size(); }

  // The server side of `client`, matched by the client's port; nullptr if not accepted yet or already closed.
  tcp::socket* peer_of(const tcp::socket& client) {
    const std::uint16_t port = local_port(client);
    for (Connection& connection : connections_) {
      if (connection.client_port == port && connection.socket.is_open()) return &connection.socket;
    }
    return nullptr;
  }

  // The client-side ports of every connection still open on the server side.
  std::set<std::uint16_t> open_client_ports() const {
    std::set<std::uint16_t> ports;
    for (const Connection& connection : connections_) {
      if (connection.socket.is_open()) ports.insert(connection.client_port);
    }
    return ports;
  }

  // Ends every open connection with a FIN.
  void close_all() {
    for (Connection& connection : connections_) connection.socket.close();
  }

  // Ends every open connection with a reset.
  void reset_all() {
    for (Connection& connection : connections_) {
      if (connection.socket.is_open()) close_with_reset(connection.socket);
    }
  }

  // Whether every connection accepted so far has been ended by its client (the pool closed it).
  bool all_ended_by_client(std::chrono::milliseconds timeout = kPatience) {
    for (Connection& connection : connections_) {
      if (connection.socket.is_open() && !sees_end_of_stream(connection.socket, timeout)) return false;
    }
    return true;
  }

 private:
  struct Connection {
    std::uint16_t client_port;
    tcp::socket socket;
  };

  void accept_next() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;  // the acceptor closed: the server is going away
      if (ec) return accept_next();
      boost::system::error_code peer_gone;
      const std::uint16_t port = socket.remote_endpoint(peer_gone).port();
      if (!greeting_.empty()) asio::write(socket, asio::buffer(greeting_), peer_gone);
      if (close_at_once_) socket.close();
      connections_.push_back({port, std::move(socket)});
      accept_next();
    });
  }

  tcp::acceptor acceptor_;
  std::string greeting_;
  bool close_at_once_ = false;
  std::vector<Connection> connections_;
};

}  // namespace poolgate::unit

// Shared harness: loopback echo server, direct vs pooled connection strategies, and the echo-checking client.
#pragma once

#include "poolgate/balance/backend.hpp"
#include "poolgate/pool/endpoint_pool.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace poolgate::bench {

using boost::asio::ip::tcp;

// Echoes every byte back on each accepted connection until the peer closes; 127.0.0.1:0, its own thread.
class EchoServer {
 public:
  EchoServer();
  ~EchoServer();
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;
  tcp::endpoint endpoint() const { return endpoint_; }

 private:
  boost::asio::io_context context_{1};
  tcp::acceptor acceptor_;
  tcp::endpoint endpoint_;
  std::thread thread_;
};

// The process-wide echo server and the one Backend every pool in the process shares, so that all benchmark
// threads' pools draw on a single cross-thread budget, as poolgate's workers do.
struct Target {
  Target();
  EchoServer server;
  balance::BackendPtr backend;
};
const Target& target();

// Cross-thread idle cap: comfortably above 2 warm sockets for each of up to 11 pools (the latency benchmark).
inline constexpr unsigned kMaxPerEndpoint = 64;

// A new connection per op: poolgate's miss path (pool::dial: socket options, connect raced against a
// timeout, on this thread's io_context), and an abortive close afterwards (see finish()).
class DirectConnections {
 public:
  DirectConnections(boost::asio::io_context& context, const Target& target);
  boost::system::error_code open(tcp::socket& socket);
  void finish(tcp::socket& socket, bool turn_loop = true);  // the loop is not needed: a close posts no work
  std::uint64_t misses() const { return 0; }

 private:
  boost::asio::io_context& context_;
  tcp::endpoint endpoint_;
};

// A warm socket per op from this thread's own EndpointPool, handed back as Reuse::reusable. replace_taken is
// off, so a hit starts no dial: the released socket is what the next acquire() gets.
class PooledConnections {
 public:
  PooledConnections(boost::asio::io_context& context, const Target& target);
  ~PooledConnections();
  PooledConnections(const PooledConnections&) = delete;
  PooledConnections& operator=(const PooledConnections&) = delete;
  // acquire(); on a miss (only before the pool warmed up: ops here are sequential), waits for the refill.
  boost::system::error_code open(tcp::socket& socket);
  // release(reusable), then, with turn_loop, poll() the io_context: the pool's work (the cancelled idle watcher
  // of the acquired socket, the lazy watch timer) runs on the thread that owns the pool, as on a poolgate worker.
  void finish(tcp::socket& socket, bool turn_loop = true);
  std::uint64_t misses() const { return pool_->counters().misses; }

 private:
  boost::asio::io_context& context_;
  std::shared_ptr<pool::EndpointPool> pool_;
  pool::Checkout checkout_;  // of the one socket open at a time
};

// One benchmark thread's client: its own io_context (never run dry: a work guard keeps run_one() waiting),
// the connection strategy built on it, and the request/echo buffers.
template <class Connections>
class Client {
 public:
  explicit Client(const Target& target);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Open a connection and finish it, moving no bytes; turn_loop: poll the io_context afterwards. False on
  // failure (see error()).
  bool open_and_finish(bool turn_loop = true);
  // Open, write a 64-byte request, read the echo and compare it, finish. False on failure or a wrong echo.
  bool echo_once();

  const std::string& error() const { return error_; }
  std::uint64_t misses() const { return connections_.misses(); }

 private:
  bool fail(const char* what, const boost::system::error_code& ec);

  boost::asio::io_context context_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  Connections connections_;
  // open_and_finish()'s socket, made once as a worker's session makes its backend socket once per client:
  // making one costs a lock (Asio's service registry), which is neither a dial's nor the pool's cost.
  tcp::socket socket_{context_};
  std::array<char, 64> request_{};
  std::array<char, 64> reply_{};
  std::uint64_t sequence_ = 0;
  std::string error_;
};

extern template class Client<DirectConnections>;
extern template class Client<PooledConnections>;

}  // namespace poolgate::bench

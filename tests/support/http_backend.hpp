// A scripted HTTP/1.1 backend for HTTP-mode tests (Beast, a thread per connection): it answers by path and counts
// connections and requests, so a test can see which backend connection served what.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace poolgate::test {

// Paths:
//   /hello          200 "conn=<C> req=<R>": the backend connection's 1-based number and its request count
//   /headers        200 with the request's header fields as the body, one "name: value" per line
//   /echo           200 with the request body; /echo?chunked answers with chunked coding
//   /close          200 "closing conn=<C>" with Connection: close, then the connection is closed
//   /big?bytes=N    200 with N bytes ('a'..'z' repeating), written in 64 KiB pieces
//   /slow           200 "slow conn=<C>", but only once release_slow() has been called: until then the request
//                   is held unanswered (slow_requests_waiting() counts those held now)
//   /two-codings    200 "hello" in chunked coding, with Transfer-Encoding in two fields (identity, chunked)
//   /upgrade        101 Switching Protocols (Upgrade: test-protocol), then echoes raw bytes until EOF
//   CONNECT x       200, then echoes raw bytes until EOF (a forward proxy's tunnel)
//   anything else   404
class HttpBackend {
 public:
  HttpBackend();
  ~HttpBackend();
  HttpBackend(const HttpBackend&) = delete;
  HttpBackend& operator=(const HttpBackend&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::string address() const;
  [[nodiscard]] std::size_t connections_accepted() const noexcept { return accepted_.load(); }
  [[nodiscard]] std::size_t requests_served() const noexcept { return served_.load(); }

  // From now on each connection answers at most `n` requests and closes, unanswered, on the one after: what a
  // keep-alive timeout racing the proxy's next request looks like from the proxy. 0: no limit.
  void close_silently_after(std::size_t n) { silent_close_after_.store(n); }

  // Lets every /slow request held now, and every later one, be answered.
  void release_slow();
  [[nodiscard]] std::size_t slow_requests_waiting() const noexcept { return slow_waiting_.load(); }

 private:
  struct Shared;
  void accept_loop();

  std::shared_ptr<Shared> shared_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> accepted_{0};
  std::atomic<std::size_t> served_{0};
  std::atomic<std::size_t> silent_close_after_{0};
  std::atomic<std::size_t> slow_waiting_{0};
  std::thread acceptor_thread_;
};

}  // namespace poolgate::test

// A blocking HTTP/1.1 test client over one connection (Beast), with a deadline on every operation: it sends
// requests as given (or raw bytes, to send what a proper client never would) and reads responses.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace poolgate::test {

using namespace std::chrono_literals;
using HttpRequestMessage = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponseMessage = boost::beast::http::response<boost::beast::http::string_body>;

// GET `target` with Host set, HTTP/1.1, keep-alive.
HttpRequestMessage make_get(std::string_view target);

class HttpConnection {
 public:
  // Connects to 127.0.0.1:port; throws if that fails.
  explicit HttpConnection(std::uint16_t port, std::chrono::milliseconds timeout = 5s);

  // Writes `request` (Content-Length filled in unless chunked) and reads one response.
  std::optional<HttpResponseMessage> exchange(HttpRequestMessage request);
  bool send(HttpRequestMessage request);
  bool send_raw(std::string_view bytes);
  // One response; `to_head` tells the parser that no body follows (the answer to a HEAD request).
  std::optional<HttpResponseMessage> read_response(bool to_head = false);
  // Exactly `size` bytes (after any response already parsed), or nullopt.
  std::optional<std::string> read_raw(std::size_t size);
  // Whether the server closes the connection (EOF or reset) within `timeout`; bytes meanwhile are discarded. If
  // it does not, the connection stays open for more.
  bool closed_by_peer(std::chrono::milliseconds timeout);
  // How the server ends the connection within `timeout`, bytes meanwhile discarded: with a FIN (orderly EOF),
  // with a reset (ECONNRESET: what may have destroyed data still in flight; also a FIN followed by a reset
  // within 500 ms), or not yet (`open`).
  enum class PeerEnd { eof, reset, open };
  PeerEnd wait_for_end(std::chrono::milliseconds timeout);
  // Whether the server resets the connection within `timeout` (a FIN alone does not count).
  bool reset_within(std::chrono::milliseconds timeout);
  // Sends a FIN (the client is done sending) and keeps the connection open for reading.
  void shutdown_send();
  void close();

 private:
  // Runs the io_context until `done` or the deadline; on the deadline the socket is closed (false).
  template <class Done>
  bool run_until(Done&& done);

  boost::asio::io_context context_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
  std::chrono::milliseconds timeout_;
};

}  // namespace poolgate::test

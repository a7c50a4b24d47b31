#include "support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <stdexcept>

namespace poolgate::test {

namespace bhttp = boost::beast::http;
using boost::asio::ip::tcp;

HttpRequestMessage make_get(std::string_view target) {
  HttpRequestMessage request{bhttp::verb::get, target, 11};
  request.set(bhttp::field::host, "poolgate.test");
  return request;
}

HttpConnection::HttpConnection(std::uint16_t port, std::chrono::milliseconds timeout)
    : socket_(context_), timeout_(timeout) {
  boost::system::error_code ec;
  socket_.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port) + ": " + ec.message());
  socket_.set_option(tcp::no_delay(true));
}

template <class Done>
bool HttpConnection::run_until(Done&& done) {
  context_.restart();
  context_.run_for(timeout_);
  if (done()) return true;
  boost::system::error_code ignored;
  socket_.close(ignored);
  context_.restart();
  context_.run();
  return false;
}

bool HttpConnection::send(HttpRequestMessage request) {
  if (!request.chunked()) request.prepare_payload();
  bool finished = false;
  boost::system::error_code result;
  bhttp::async_write(socket_, request, [&](boost::system::error_code ec, std::size_t) {
    result = ec;
    finished = true;
  });
  return run_until([&] { return finished; }) && !result;
}

bool HttpConnection::send_raw(std::string_view bytes) {
  bool finished = false;
  boost::system::error_code result;
  boost::asio::async_write(socket_, boost::asio::buffer(bytes), [&](boost::system::error_code ec, std::size_t) {
    result = ec;
    finished = true;
  });
  return run_until([&] { return finished; }) && !result;
}

std::optional<HttpResponseMessage> HttpConnection::read_response(bool to_head) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(boost::none);
  parser.skip(to_head);
  bool finished = false;
  boost::system::error_code result;
  bhttp::async_read(socket_, buffer_, parser, [&](boost::system::error_code ec, std::size_t) {
    result = ec;
    finished = true;
  });
  if (!run_until([&] { return finished; }) || result) return std::nullopt;
  return parser.release();
}

std::optional<HttpResponseMessage> HttpConnection::exchange(HttpRequestMessage request) {
  const bool head = request.method() == bhttp::verb::head;
  if (!send(std::move(request))) return std::nullopt;
  return read_response(head);
}

std::optional<std::string> HttpConnection::read_raw(std::size_t size) {
  // Bytes already read past the last parsed response come first.
  const std::size_t buffered = std::min(size, buffer_.size());
  const auto data = buffer_.data();
  std::string bytes(static_cast<const char*>(data.data()), buffered);
  buffer_.consume(buffered);
  if (bytes.size() == size) return bytes;
  bytes.resize(size);
  bool finished = false;
  boost::system::error_code result;
  boost::asio::async_read(socket_, boost::asio::buffer(bytes.data() + buffered, size - buffered),
                          [&](boost::system::error_code ec, std::size_t) {
                            result = ec;
                            finished = true;
                          });
  if (!run_until([&] { return finished; }) || result) return std::nullopt;
  return bytes;
}

bool HttpConnection::closed_by_peer(std::chrono::milliseconds timeout) {
  // poll(), not an Asio read: after the parser has consumed an EOF, edge-triggered readiness never fires again.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const int fd = socket_.native_handle();
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) return false;
    pollfd probe{fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&probe, 1, static_cast<int>(left.count())) <= 0) continue;
    if (probe.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
    char sink[4096];
    const ssize_t n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
  }
}

HttpConnection::PeerEnd HttpConnection::wait_for_end(std::chrono::milliseconds timeout) {
  // recv() tells the two apart where poll() does not: 0 after a FIN, ECONNRESET after a reset.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const int fd = socket_.native_handle();
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) return PeerEnd::open;
    pollfd probe{fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&probe, 1, static_cast<int>(left.count())) <= 0) continue;
    char sink[4096];
    const ssize_t n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return PeerEnd::reset;
    if (n != 0) continue;
    // A FIN. Linux reports it as EOF even when a reset follows at once (a close with unread bytes after
    // shutdown), so wait a moment for one: the reset is what can destroy data in flight.
    return reset_within(500ms) ? PeerEnd::reset : PeerEnd::eof;
  }
}

bool HttpConnection::reset_within(std::chrono::milliseconds timeout) {
  // No events asked for: poll() then wakes only for an error (after a FIN, the socket is always readable).
  pollfd probe{socket_.native_handle(), 0, 0};
  if (::poll(&probe, 1, static_cast<int>(timeout.count())) <= 0 || !(probe.revents & POLLERR)) return false;
  int error = 0;
  socklen_t size = sizeof error;
  ::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_ERROR, &error, &size);
  // ECONNRESET, or EPIPE when the reset came after the server's FIN (the socket was in CLOSE_WAIT).
  return error != 0;
}

void HttpConnection::shutdown_send() {
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
}

void HttpConnection::close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

}  // namespace poolgate::test

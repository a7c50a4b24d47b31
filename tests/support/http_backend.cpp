#include "support/http_backend.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <sys/socket.h>

#include <list>

namespace poolgate::test {

namespace bhttp = boost::beast::http;
using boost::asio::ip::tcp;

struct HttpBackend::Shared {
  boost::asio::io_context context;
  tcp::acceptor acceptor{context};
  std::mutex mutex;
  std::list<std::shared_ptr<tcp::socket>> sockets;  // every connection, so the destructor can end them
  std::list<std::thread> threads;
  bool stopping = false;
  std::condition_variable slow_gate;  // under `mutex`; woken by release_slow() and by stopping
  bool slow_released = false;
};

namespace {

using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

// `count` bytes of the repeating 'a'..'z' body that starts at offset `first` of the whole body.
std::string pattern_bytes(std::size_t first, std::size_t count) {
  std::string bytes(count, '\0');
  for (std::size_t i = 0; i < count; ++i) bytes[i] = static_cast<char>('a' + (first + i) % 26);
  return bytes;
}

void write_big(tcp::socket& socket, std::size_t count, unsigned version, boost::system::error_code& ec) {
  bhttp::response<bhttp::empty_body> header{bhttp::status::ok, version};
  header.content_length(count);
  bhttp::response_serializer<bhttp::empty_body> serializer{header};
  bhttp::write_header(socket, serializer, ec);
  for (std::size_t sent = 0; sent < count && !ec;) {
    const std::size_t n = std::min<std::size_t>(64 * 1024, count - sent);
    boost::asio::write(socket, boost::asio::buffer(pattern_bytes(sent, n)), ec);
    sent += n;
  }
}

// Echoes raw bytes after a protocol switch, until the peer's EOF.
void echo_raw(tcp::socket& socket, boost::beast::flat_buffer& leftover) {
  boost::system::error_code ec;
  if (leftover.size() > 0) boost::asio::write(socket, leftover.data(), ec);
  char buffer[4096];
  while (!ec) {
    const std::size_t n = socket.read_some(boost::asio::buffer(buffer), ec);
    if (n > 0) boost::asio::write(socket, boost::asio::buffer(buffer, n), ec);
  }
  socket.shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace

HttpBackend::HttpBackend() : shared_(std::make_shared<Shared>()) {
  tcp::endpoint local(boost::asio::ip::make_address("127.0.0.1"), 0);
  shared_->acceptor.open(local.protocol());
  shared_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  shared_->acceptor.bind(local);
  shared_->acceptor.listen(128);
  port_ = shared_->acceptor.local_endpoint().port();
  acceptor_thread_ = std::thread([this] { accept_loop(); });
}

HttpBackend::~HttpBackend() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
    shared_->slow_gate.notify_all();
    // shutdown wakes the blocked accept (close alone may not); the same for every blocked read.
    ::shutdown(shared_->acceptor.native_handle(), SHUT_RDWR);
    // ::shutdown on the descriptor, not the Asio object, which its own thread may be using: the descriptor stays
    // valid because a connection thread closes its socket only under this same lock.
    for (auto& socket : shared_->sockets) {
      if (socket->is_open()) ::shutdown(socket->native_handle(), SHUT_RDWR);
    }
  }
  acceptor_thread_.join();
  std::list<std::thread> threads;
  {
    std::lock_guard lock(shared_->mutex);
    threads.swap(shared_->threads);
  }
  for (auto& thread : threads) thread.join();
}

std::string HttpBackend::address() const { return "127.0.0.1:" + std::to_string(port_); }

void HttpBackend::release_slow() {
  std::lock_guard lock(shared_->mutex);
  shared_->slow_released = true;
  shared_->slow_gate.notify_all();
}

void HttpBackend::accept_loop() {
  for (;;) {
    auto socket = std::make_shared<tcp::socket>(shared_->context);
    boost::system::error_code ec;
    shared_->acceptor.accept(*socket, ec);
    std::lock_guard lock(shared_->mutex);
    if (ec || shared_->stopping) return;
    const std::size_t number = ++accepted_;
    shared_->sockets.push_back(socket);
    shared_->threads.emplace_back([this, socket, number] {
      boost::beast::flat_buffer buffer;
      boost::system::error_code ec;
      for (std::size_t served_here = 0;; ++served_here) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.body_limit(boost::none);
        parser.header_limit(128 * 1024);  // above the proxy's 64 KiB, so the proxy's limit is what a test sees
        bhttp::read(*socket, buffer, parser, ec);
        if (ec) break;
        const std::size_t limit = silent_close_after_.load();
        if (limit > 0 && served_here >= limit) break;  // the keep-alive race: the request is never answered
        Request& request = parser.get();
        ++served_;
        const std::string target(request.target());
        Response response{bhttp::status::ok, request.version()};
        response.keep_alive(request.keep_alive());
        if (target == "/hello") {
          response.body() = "conn=" + std::to_string(number) + " req=" + std::to_string(served_here + 1);
        } else if (target == "/headers") {
          for (const auto& field : request) {
            response.body() += std::string(field.name_string()) + ": " + std::string(field.value()) + "\n";
          }
        } else if (target.rfind("/echo", 0) == 0) {
          response.body() = request.body();
          if (target == "/echo?chunked") response.chunked(true);
        } else if (target == "/close") {
          response.body() = "closing conn=" + std::to_string(number);
          response.keep_alive(false);
        } else if (target == "/slow") {
          std::unique_lock lock(shared_->mutex);
          ++slow_waiting_;
          shared_->slow_gate.wait(lock, [&] { return shared_->slow_released || shared_->stopping; });
          --slow_waiting_;
          if (shared_->stopping) break;
          response.body() = "slow conn=" + std::to_string(number);
        } else if (target.rfind("/big?bytes=", 0) == 0) {
          write_big(*socket, std::stoull(target.substr(11)), request.version(), ec);
          if (ec) break;
          continue;
        } else if (request.method() == bhttp::verb::connect) {
          bhttp::response<bhttp::empty_body> established{bhttp::status::ok, 11};
          bhttp::write(*socket, established, ec);
          if (!ec) echo_raw(*socket, buffer);
          break;
        } else if (target == "/two-codings") {
          // Transfer-Encoding in two fields, which readers may join ("identity, chunked") or judge one by one.
          static constexpr std::string_view kTwoCodings =
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\nhello\r\n0\r\n\r\n";
          boost::asio::write(*socket, boost::asio::buffer(kTwoCodings), ec);
          if (ec) break;
          continue;
        } else if (target == "/upgrade") {
          bhttp::response<bhttp::empty_body> switching{bhttp::status::switching_protocols, 11};
          switching.set(bhttp::field::upgrade, "test-protocol");
          switching.set(bhttp::field::connection, "upgrade");
          bhttp::write(*socket, switching, ec);
          if (!ec) echo_raw(*socket, buffer);
          break;
        } else {
          response.result(bhttp::status::not_found);
        }
        if (!response.chunked()) response.prepare_payload();
        if (request.method() == bhttp::verb::head) {
          // The answer to HEAD is the header GET would get, framing fields included, and nothing after it.
          bhttp::response_serializer<bhttp::string_body> header_only{response};
          bhttp::write_header(*socket, header_only, ec);
          if (ec || !response.keep_alive()) break;
          continue;
        }
        bhttp::write(*socket, response, ec);
        if (ec || !response.keep_alive()) break;
      }
      boost::system::error_code ignored;
      socket->shutdown(tcp::socket::shutdown_send, ignored);
      std::lock_guard lock(shared_->mutex);
      socket->close(ignored);
    });
  }
}

}  // namespace poolgate::test

// The only test translation unit with Beast and Asio SSL in it.
#include "support/test_api_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

namespace poolgate::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::as_tuple;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

constexpr auto kIoTimeout = std::chrono::seconds(10);
constexpr auto kHoldPoll = std::chrono::milliseconds(5);

std::string status_json(unsigned code, const std::string& reason, const std::string& message) {
  return R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")" + message +
         R"(","reason":")" + reason + R"(","code":)" + std::to_string(code) + "}";
}

}  // namespace

struct TestApiServer::Impl {
  explicit Impl(TestApiServerOptions options_) : options(std::move(options_)) {
    ssl_context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3);
    ssl_context.use_certificate_chain(asio::buffer(options.server.certificate_pem));
    ssl_context.use_private_key(asio::buffer(options.server.key_pem), ssl::context::pem);
    if (options.auth == TestApiServerOptions::Auth::client_certificate) {
      ssl_context.add_certificate_authority(asio::buffer(options.client_ca_pem));
      ssl_context.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    const tcp::endpoint where(asio::ip::make_address(options.bind_address), 0);
    acceptor.open(where.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(where);
    acceptor.listen();
    port = acceptor.local_endpoint().port();
    asio::co_spawn(context, accept_loop(), asio::detached);
    thread = std::thread([this] { context.run(); });
  }

  ~Impl() {
    asio::post(context, [this] {
      boost::system::error_code ignored;
      acceptor.close(ignored);
      context.stop();
    });
    thread.join();
  }

  asio::awaitable<void> accept_loop() {
    while (true) {
      auto [error, socket] = co_await acceptor.async_accept(as_tuple(use_awaitable));
      if (error) co_return;
      asio::co_spawn(context, serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), ssl_context);
    beast::get_lowest_layer(stream).expires_after(kIoTimeout);
    auto [handshake_error] = co_await stream.async_handshake(ssl::stream_base::server, as_tuple(use_awaitable));
    if (handshake_error) {
      ++failed_handshakes;
      co_return;
    }
    ++handshakes;
    beast::flat_buffer buffer;
    while (true) {
      http::request<http::string_body> request;
      beast::get_lowest_layer(stream).expires_after(kIoTimeout);
      auto [read_error, read] = co_await http::async_read(stream, buffer, request, as_tuple(use_awaitable));
      if (read_error) co_return;
      const std::string target(request.target());
      {
        std::lock_guard lock(mutex);
        targets.push_back(target);
      }
      asio::steady_timer timer(context);
      while (held.load()) {
        timer.expires_after(kHoldPoll);
        co_await timer.async_wait(as_tuple(use_awaitable));
      }
      http::response<http::string_body> response = answer(request, target.substr(0, target.find('?')));
      beast::get_lowest_layer(stream).expires_after(kIoTimeout);
      auto [write_error, written] = co_await http::async_write(stream, response, as_tuple(use_awaitable));
      if (write_error || !response.keep_alive()) co_return;
    }
  }

  http::response<http::string_body> answer(const http::request<http::string_body>& request, const std::string& path) {
    unsigned status = 404;
    std::string body = status_json(404, "NotFound", "the server could not find the requested resource");
    if (options.auth == TestApiServerOptions::Auth::bearer_token &&
        request[http::field::authorization] != "Bearer " + options.token) {
      status = 401;
      body = status_json(401, "Unauthorized", "Unauthorized");
    } else {
      std::lock_guard lock(mutex);
      if (auto found = responses.find(path); found != responses.end()) {
        status = found->second.first;
        body = found->second.second;
      }
    }
    http::response<http::string_body> response{static_cast<http::status>(status), request.version()};
    response.set(http::field::content_type, "application/json");
    response.keep_alive(request.keep_alive());
    response.body() = std::move(body);
    response.prepare_payload();
    return response;
  }

  TestApiServerOptions options;
  // Declared before the io_context: streams in coroutine frames that die with the io_context use it.
  ssl::context ssl_context{ssl::context::tls_server};
  asio::io_context context{1};
  tcp::acceptor acceptor{context};
  std::uint16_t port = 0;
  std::thread thread;

  mutable std::mutex mutex;
  std::map<std::string, std::pair<unsigned, std::string>, std::less<>> responses;
  std::vector<std::string> targets;
  std::atomic<bool> held{false};
  std::atomic<std::size_t> handshakes{0};
  std::atomic<std::size_t> failed_handshakes{0};
};

TestApiServer::TestApiServer(TestApiServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

TestApiServer::~TestApiServer() = default;

std::uint16_t TestApiServer::port() const noexcept { return impl_->port; }

std::string TestApiServer::address() const {
  return impl_->options.bind_address + ":" + std::to_string(impl_->port);
}

void TestApiServer::respond(std::string_view path, unsigned status, std::string body) {
  std::lock_guard lock(impl_->mutex);
  impl_->responses[std::string(path)] = {status, std::move(body)};
}

void TestApiServer::hold_responses(bool held) { impl_->held.store(held); }

std::size_t TestApiServer::requests(std::string_view path) const {
  std::lock_guard lock(impl_->mutex);
  std::size_t count = 0;
  for (const std::string& target : impl_->targets) {
    if (std::string_view(target).substr(0, target.find('?')) == path) ++count;
  }
  return count;
}

std::size_t TestApiServer::total_requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->targets.size();
}

std::vector<std::string> TestApiServer::targets() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->targets;
}

std::size_t TestApiServer::handshakes() const { return impl_->handshakes.load(); }

std::size_t TestApiServer::failed_handshakes() const { return impl_->failed_handshakes.load(); }

}  // namespace poolgate::test

#include "poolgate/admin/server.hpp"

#include "poolgate/balance/resolve.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include <list>
#include <thread>

namespace poolgate::admin {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::asio::ip::tcp;
constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

// A keep-alive connection (Prometheus keeps one per target) may wait this long for its next request.
constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr auto kWriteTimeout = std::chrono::seconds(10);
// More admin connections than this are closed at once: a misbehaving client cannot eat poolgate's descriptors.
constexpr std::size_t kMaxConnections = 64;
constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
constexpr auto kAcceptErrorPause = std::chrono::milliseconds(100);

constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

tcp::endpoint resolve(const config::HostPort& address) {
  boost::system::error_code ec;
  if (address.host.empty()) {
    boost::asio::io_context probe_context;
    tcp::socket probe(probe_context);
    probe.open(tcp::v6(), ec);
    return ec ? tcp::endpoint(tcp::v4(), address.port) : tcp::endpoint(tcp::v6(), address.port);
  }
  auto literal = boost::asio::ip::make_address(address.host, ec);
  if (!ec) return {literal, address.port};
  boost::asio::io_context context;
  tcp::resolver resolver(context);
  auto results = resolver.resolve(address.host, std::to_string(address.port), tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    throw AdminListenError("cannot resolve admin address " + address.to_string() + ": " +
                           (ec ? ec.message() : "no addresses"));
  }
  return results.begin()->endpoint();
}

}  // namespace

struct AdminServer::Impl {
  Impl(config::HostPort address_, const Telemetry& telemetry_)
      : address(std::move(address_)), telemetry(telemetry_), acceptor(context) {}

  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(tcp::socket socket);
  http::response<http::string_body> respond(const http::request<http::empty_body>& request) const;
  void close_everything();

  config::HostPort address;
  const Telemetry& telemetry;
  boost::asio::io_context context{1};
  tcp::acceptor acceptor;
  std::thread thread;
  // Admin thread only.
  std::list<beast::tcp_stream*> streams;
  bool stopping = false;
};

AdminServer::AdminServer(config::HostPort address, const Telemetry& telemetry)
    : impl_(std::make_unique<Impl>(std::move(address), telemetry)) {}

AdminServer::~AdminServer() { stop(); }

tcp::endpoint AdminServer::start() {
  const tcp::endpoint where = resolve(impl_->address);
  boost::system::error_code ec;
  tcp::acceptor& acceptor = impl_->acceptor;
  acceptor.open(where.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && where.address().is_v6() && where.address().is_unspecified()) {
    acceptor.set_option(boost::asio::ip::v6_only(false), ec);
  }
  if (!ec) acceptor.bind(where, ec);
  if (!ec) acceptor.listen(tcp::acceptor::max_listen_connections, ec);
  if (ec) {
    const std::string place = balance::endpoint_key(where);
    if (ec == boost::asio::error::address_in_use) {
      throw AdminListenError("admin address " + place + " is already in use (--admin-listen)");
    }
    throw AdminListenError("cannot listen on admin address " + place + ": " + ec.message() + " (--admin-listen)");
  }
  const tcp::endpoint bound = acceptor.local_endpoint();
  boost::asio::co_spawn(impl_->context, impl_->accept_loop(), boost::asio::detached);
  impl_->thread = std::thread([impl = impl_.get()] { impl->context.run(); });
  return bound;
}

void AdminServer::stop() {
  if (!impl_->thread.joinable()) return;
  boost::asio::post(impl_->context, [impl = impl_.get()] { impl->close_everything(); });
  impl_->thread.join();
}

void AdminServer::Impl::close_everything() {
  stopping = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  for (beast::tcp_stream* stream : streams) stream->socket().close(ignored);
}

boost::asio::awaitable<void> AdminServer::Impl::accept_loop() {
  boost::asio::steady_timer pause(context);
  while (!stopping) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (stopping || ec == boost::asio::error::operation_aborted) break;
    if (ec) {
      // Out of descriptors or the like: do not spin; the data path matters more than a scrape.
      pause.expires_after(kAcceptErrorPause);
      co_await pause.async_wait(use_tuple);
      continue;
    }
    if (streams.size() >= kMaxConnections) {
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    boost::asio::co_spawn(context, serve(std::move(socket)), boost::asio::detached);
  }
}

boost::asio::awaitable<void> AdminServer::Impl::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  streams.push_front(&stream);
  const auto registration = streams.begin();
  beast::flat_buffer buffer;
  try {
    while (!stopping) {
      http::request_parser<http::empty_body> parser;  // GET and HEAD carry no body; one that does is refused
      parser.header_limit(kMaxHeaderBytes);
      stream.expires_after(kIdleTimeout);
      auto [read_error, read_bytes] = co_await http::async_read(stream, buffer, parser, use_tuple);
      if (read_error) break;
      http::response<http::string_body> response = respond(parser.get());
      stream.expires_after(kWriteTimeout);
      auto [write_error, written] = co_await http::async_write(stream, response, use_tuple);
      if (write_error || !response.keep_alive()) break;
    }
  } catch (const std::exception& error) {
    spdlog::debug("admin connection ended: {}", error.what());
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.socket().close(ignored);
  streams.erase(registration);
}

http::response<http::string_body> AdminServer::Impl::respond(const http::request<http::empty_body>& request) const {
  std::string_view path = request.target();
  path = path.substr(0, path.find('?'));

  http::response<http::string_body> response;
  response.version(request.version());
  response.keep_alive(request.keep_alive());
  response.set(http::field::content_type, kTextPlain);
  response.set(http::field::cache_control, "no-store");
  const bool known = path == "/metrics" || path == "/healthz" || path == "/readyz";
  const bool get_or_head = request.method() == http::verb::get || request.method() == http::verb::head;
  if (!known) {
    response.result(http::status::not_found);
    response.body() = "not found: try /metrics, /healthz or /readyz\n";
  } else if (!get_or_head) {
    response.result(http::status::method_not_allowed);
    response.set(http::field::allow, "GET, HEAD");
    response.body() = "method not allowed\n";
  } else if (path == "/metrics") {
    response.result(http::status::ok);
    response.set(http::field::content_type, kMetricsType);
    response.body() = telemetry.render_metrics();
  } else if (path == "/healthz") {
    response.result(http::status::ok);
    response.body() = "ok\n";
  } else {
    const Readiness readiness = telemetry.readiness();
    response.result(readiness.ready ? http::status::ok : http::status::service_unavailable);
    response.body() = readiness.reason + "\n";
  }
  response.prepare_payload();
  if (request.method() == http::verb::head) response.body().clear();  // Content-Length stays that of GET
  return response;
}

}  // namespace poolgate::admin

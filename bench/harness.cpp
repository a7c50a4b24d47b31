// Shared harness (see harness.hpp): loopback echo server, direct vs pooled connections, echo-checking client.
#include "harness.hpp"

#include "poolgate/pool/dialer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <cstring>

namespace poolgate::bench {
namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(5);
constexpr auto kRefillWait = std::chrono::seconds(5);
constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

boost::asio::awaitable<void> echo(tcp::socket socket) {
  std::array<char, 4096> buffer;
  for (;;) {
    auto [read_error, n] = co_await socket.async_read_some(boost::asio::buffer(buffer), use_tuple);
    if (read_error) co_return;
    auto [write_error, written] = co_await boost::asio::async_write(socket, boost::asio::buffer(buffer, n), use_tuple);
    if (write_error) co_return;
  }
}

boost::asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec == boost::asio::error::operation_aborted) co_return;
    if (!ec) boost::asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), boost::asio::detached);
  }
}

// Runs `context` one handler at a time until `done()` or `timeout`; false on timeout.
template <class Predicate>
bool run_until(boost::asio::io_context& context, Predicate done, std::chrono::steady_clock::duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    context.run_one_until(deadline);
  }
  return true;
}

}  // namespace

EchoServer::EchoServer() : acceptor_(context_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
  acceptor_.set_option(tcp::no_delay(true));  // inherited by accepted sockets
  endpoint_ = acceptor_.local_endpoint();
  boost::asio::co_spawn(context_, accept_loop(acceptor_), boost::asio::detached);
  thread_ = std::thread([this] { context_.run(); });
}

EchoServer::~EchoServer() {
  context_.stop();
  thread_.join();
}

Target::Target() {
  const std::string name = server.endpoint().address().to_string() + ":" + std::to_string(server.endpoint().port());
  backend = std::make_shared<balance::Backend>(name, name, server.endpoint());
}

const Target& target() {
  static Target instance;
  return instance;
}

// ---- DirectConnections ----

DirectConnections::DirectConnections(boost::asio::io_context& context, const Target& target)
    : context_(context), endpoint_(target.server.endpoint()) {}

boost::system::error_code DirectConnections::open(tcp::socket& socket) {
  bool done = false;
  boost::system::error_code result;
  boost::asio::co_spawn(context_, pool::dial(socket, endpoint_, kConnectTimeout),
                        [&](std::exception_ptr, boost::system::error_code ec) {
                          result = ec;
                          done = true;
                        });
  if (!run_until(context_, [&] { return done; }, 2 * kConnectTimeout)) return boost::asio::error::timed_out;
  return result;
}

void DirectConnections::finish(tcp::socket& socket, bool /*turn_loop*/) {
  boost::system::error_code ignored;
  // Abortive close (RST): a FIN close leaves each of the suite's ~40k direct connections in TIME_WAIT for 60 s,
  // which exhausts the 28k ephemeral ports, so later direct benchmarks (and anything else on the machine
  // dialing loopback) would measure the kernel's port search. Cheaper than a FIN close: favours Direct.
  socket.set_option(boost::asio::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
}

// ---- PooledConnections ----

PooledConnections::PooledConnections(boost::asio::io_context& context, const Target& target)
    : context_(context) {
  pool::PoolSettings settings;
  settings.max_per_endpoint = kMaxPerEndpoint;
  // Acquire, use, release as reusable: HTTP mode's keep-alive pool, with its settings.
  settings = pool::keep_alive_settings(settings);
  pool_ = std::make_shared<pool::EndpointPool>(context_.get_executor(), target.backend, settings,
                                               [](const balance::BackendPtr&, const boost::system::error_code&) {});
  pool_->refill();
  // Warm before the first op; a pool that cannot warm up shows as misses (and then errors) in open().
  run_until(context_, [&] { return pool_->idle_count() >= pool_->warm_target(); }, kRefillWait);
}

PooledConnections::~PooledConnections() {
  pool_->shutdown(false);
  context_.poll();  // the aborted watchers and finished dials let go of the pool
}

boost::system::error_code PooledConnections::open(tcp::socket& socket) {
  for (;;) {
    if (pool_->acquire(socket, &checkout_)) return {};
    pool_->refill();
    if (!run_until(context_, [&] { return pool_->idle_count() > 0; }, kRefillWait)) {
      return boost::asio::error::timed_out;
    }
  }
}

void PooledConnections::finish(tcp::socket& socket, bool turn_loop) {
  pool_->release(std::move(socket), pool::Reuse::reusable, checkout_);
  if (turn_loop) context_.poll();
}

// ---- Client ----

template <class Connections>
Client<Connections>::Client(const Target& target)
    : work_(context_.get_executor()), connections_(context_, target) {
  for (std::size_t i = 0; i < request_.size(); ++i) request_[i] = static_cast<char>('a' + i % 26);
}

template <class Connections>
Client<Connections>::~Client() = default;

template <class Connections>
bool Client<Connections>::fail(const char* what, const boost::system::error_code& ec) {
  error_ = what;
  if (ec) error_ += ": " + ec.message();
  return false;
}

template <class Connections>
bool Client<Connections>::open_and_finish(bool turn_loop) {
  if (auto ec = connections_.open(socket_)) return fail("open", ec);
  if (!socket_.is_open()) return fail("open returned a closed socket", {});
  connections_.finish(socket_, turn_loop);
  return true;
}

template <class Connections>
bool Client<Connections>::echo_once() {
  tcp::socket socket(context_);
  if (auto ec = connections_.open(socket)) return fail("open", ec);
  ++sequence_;  // every request differs, so a stale or crossed reply cannot pass for this one's echo
  std::memcpy(request_.data(), &sequence_, sizeof sequence_);
  boost::system::error_code ec;
  boost::asio::write(socket, boost::asio::buffer(request_), ec);
  if (ec) return fail("write", ec);
  boost::asio::read(socket, boost::asio::buffer(reply_), ec);
  if (ec) return fail("read", ec);
  if (reply_ != request_) return fail("wrong echo", {});
  connections_.finish(socket);
  return true;
}

template class Client<DirectConnections>;
template class Client<PooledConnections>;

}  // namespace poolgate::bench

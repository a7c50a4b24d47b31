// What the pool saves on the client's path: a direct dial to a loopback server against taking a warm socket
// from poolgate's EndpointPool (the replacement dial it triggers runs outside the timed region).
#include "poolgate/pool/dialer.hpp"
#include "poolgate/pool/endpoint_pool.hpp"

#include <benchmark/benchmark.h>
#include <boost/asio.hpp>

#include <chrono>
#include <thread>

namespace {

using boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// A loopback server on its own thread that accepts and keeps connections until the peer closes.
class LoopbackServer {
 public:
  LoopbackServer() : acceptor_(context_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    accept();
    thread_ = std::thread([this] { context_.run(); });
  }
  ~LoopbackServer() {
    context_.stop();
    thread_.join();
  }
  tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (!ec) hold(std::make_shared<tcp::socket>(std::move(socket)));
      accept();
    });
  }
  static void hold(std::shared_ptr<tcp::socket> socket) {
    auto buffer = std::make_shared<std::array<char, 256>>();
    socket->async_read_some(boost::asio::buffer(*buffer), [socket, buffer](boost::system::error_code ec, std::size_t) {
      if (!ec) hold(socket);
    });
  }
  boost::asio::io_context context_{1};
  tcp::acceptor acceptor_;
  std::thread thread_;
};

void BM_ConnectionEstablishment_Direct(benchmark::State& state) {
  LoopbackServer server;
  boost::asio::io_context context(1);
  for (auto _ : state) {
    tcp::socket socket(context);
    socket.connect(server.endpoint());
    benchmark::DoNotOptimize(socket.native_handle());
  }
}
BENCHMARK(BM_ConnectionEstablishment_Direct)->UseRealTime();

void BM_ConnectionEstablishment_Pooled(benchmark::State& state) {
  LoopbackServer server;
  boost::asio::io_context context(1);
  auto backend = std::make_shared<poolgate::balance::Backend>("bench", "bench", server.endpoint());
  poolgate::pool::PoolSettings settings;
  settings.max_per_endpoint = 4;
  auto pool = std::make_shared<poolgate::pool::EndpointPool>(context.get_executor(), backend, settings,
                                                             [](auto&, auto&) {});
  pool->refill();
  std::uint64_t misses = 0;
  for (auto _ : state) {
    // Let the replacement dial of the previous hit land, outside the timed region.
    while (pool->idle_count() == 0) context.run_one();
    const auto start = Clock::now();
    auto socket = pool->acquire();
    const auto elapsed = Clock::now() - start;
    state.SetIterationTime(std::chrono::duration<double>(elapsed).count());
    if (socket) {
      pool->release(std::move(*socket), poolgate::pool::Reuse::discard);
    } else {
      ++misses;
    }
  }
  state.counters["misses"] = static_cast<double>(misses);
  pool->shutdown(false);
}
BENCHMARK(BM_ConnectionEstablishment_Pooled)->UseManualTime();

}  // namespace

BENCHMARK_MAIN();

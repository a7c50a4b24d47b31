// Covers relay::relay's use of the pipe pool: small messages are copied, streams spliced, a connection holds a
// pipe only while a stream is in flight, and a relay torn down mid-stream leaves no pipe open.
#include "relay_pair.hpp"
#include "support/proc_stats.hpp"

#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <unistd.h>

namespace poolgate::relay {
namespace {

using namespace std::chrono_literals;
using unit::tcp;

using RelayPipes = RelayBetweenPairs;

TEST_F(RelayPipes, SmallMessagesTakeNoPipeAStreamTakesOneAndAnIdleRelayHoldsNone) {
  // Both sockets start blocking, as an accepted one does, and without TCP_INQ (the relay's fallback waits): the
  // relay must switch them itself for splice().
  start_relay();

  for (const std::string message : {"first", "second"}) {
    boost::asio::write(client_side.client, boost::asio::buffer(message));
    ASSERT_TRUE(unit::run_until(io, [&] { return backend_side.server.available() >= message.size(); }))
        << "the relay did not move " << message;
    EXPECT_EQ(unit::read_exactly(backend_side.server, message.size()), message);
    EXPECT_EQ(pipes.in_use() + pipes.kept(), 0u) << "a small message went through a pipe";
  }

  // A stream: the relay's reads fill its scratch buffer, so it switches to splice() through a pipe.
  std::string stream(4 << 20, '\0');
  for (std::size_t i = 0; i < stream.size(); ++i) stream[i] = static_cast<char>(i * 7 + i / 4096);
  bool written = false;
  boost::asio::async_write(client_side.client, boost::asio::buffer(stream),
                           [&](boost::system::error_code ec, std::size_t) { written = !ec; });
  std::string arrived;
  ASSERT_TRUE(unit::run_until(io, [&] {
    if (const std::size_t ready = backend_side.server.available(); ready > 0) {
      const std::size_t before = arrived.size();
      arrived.resize(before + ready);
      backend_side.server.read_some(boost::asio::buffer(arrived.data() + before, ready));
    }
    return written && arrived.size() >= stream.size();
  })) << arrived.size() << " of " << stream.size() << " bytes arrived";
  EXPECT_TRUE(arrived == stream) << "the stream arrived changed";
  // Both directions are waiting for their source now: the pipe the stream took is back in the cache, empty.
  ASSERT_TRUE(unit::run_until(io, [&] { return pipes.in_use() == 0; }))
      << "an idle relay still holds " << pipes.in_use() << " pipe(s)";
  EXPECT_GE(pipes.kept(), 1u) << "the stream never went through a pipe";

  client_side.client.close();
  backend_side.server.close();
  ASSERT_TRUE(unit::run_until(io, [&] { return finished; }));
  EXPECT_EQ(totals.to_backend, 11u + stream.size());
  EXPECT_EQ(pipes.in_use(), 0u);
}

// A worker's event loop, when destroyed, destroys the relays' suspended directions. One that held a pipe with a
// stream in it gives the pipe back to the pool, which outlives the loop: closed, and no longer counted in use
// (the count is the thread's budget of pipes).
TEST(RelayTeardown, ADirectionDestroyedMidStreamWithItsEventLoopGivesItsPipeBack) {
  const long descriptors_before = poolgate::test::open_descriptors(::getpid());
  PipePool pipes;
  {
    auto io = std::make_unique<unit::asio::io_context>();
    auto client_side = std::make_unique<unit::SocketPair>(unit::connected_pair(*io));
    auto backend_side = std::make_unique<unit::SocketPair>(unit::connected_pair(*io));
    RelayTotals totals;
    spawn_relay(nullptr, client_side->server, backend_side->client, pipes, totals, {});
    // The backend reads nothing: the stream fills its socket buffers and then the pipe, and the relay waits to
    // write with bytes in the pipe.
    const std::string stream(16 << 20, 'x');
    boost::asio::async_write(client_side->client, boost::asio::buffer(stream),
                             [](boost::system::error_code, std::size_t) {});
    ASSERT_TRUE(unit::run_until(*io, [&] { return pipes.in_use() == 1 && totals.to_backend > 0; }))
        << "the stream never went through a pipe";
    unit::run_for(*io, 50ms);
    ASSERT_EQ(pipes.in_use(), 1u) << "the relay no longer holds a pipe";
    // The order a worker is torn down in: the sockets (their waits cancelled but not run), then the event loop
    // with the suspended directions; the pool last.
    client_side.reset();
    backend_side.reset();
    io.reset();
  }
  EXPECT_EQ(pipes.in_use(), 0u) << "the torn-down relay's pipe is still counted in use";
  EXPECT_EQ(pipes.kept(), 0u) << "a pipe with bytes in it was kept for reuse";
  EXPECT_EQ(poolgate::test::open_descriptors(::getpid()), descriptors_before) << "descriptors left open by the torn-down relay";
}

}  // namespace
}  // namespace poolgate::relay

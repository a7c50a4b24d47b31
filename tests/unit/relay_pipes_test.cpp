// Covers relay::relay's use of the pipe pool: a connection holds pipes only while bytes are in flight.
#include "poolgate/relay/relay.hpp"

#include "loopback.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

namespace poolgate::relay {
namespace {

using namespace std::chrono_literals;
using unit::tcp;

TEST(RelayPipes, AnIdleRelayHoldsNoPipeAndTakesOneAgainWhenBytesFlow) {
  unit::asio::io_context io;
  unit::SocketPair client_side = unit::connected_pair(io);   // client_side.client plays the client
  unit::SocketPair backend_side = unit::connected_pair(io);  // backend_side.server plays the backend
  // The relay needs non-blocking sockets from Asio's connect, as pool::dial leaves them.
  backend_side.client.non_blocking(true);
  PipePool pipes;
  RelayTotals totals;
  bool finished = false;
  boost::asio::co_spawn(io, relay(client_side.server, backend_side.client, pipes, totals),
                        [&](std::exception_ptr) { finished = true; });

  for (const std::string message : {"first", "second"}) {
    boost::asio::write(client_side.client, boost::asio::buffer(message));
    ASSERT_TRUE(unit::run_until(io, [&] { return backend_side.server.available() >= message.size(); }))
        << "the relay did not move " << message;
    EXPECT_EQ(unit::read_exactly(backend_side.server, message.size()), message);
    // Both directions are waiting for their source now: their pipes are back in the cache, empty.
    ASSERT_TRUE(unit::run_until(io, [&] { return pipes.in_use() == 0; }))
        << "an idle relay still holds " << pipes.in_use() << " pipe(s)";
    EXPECT_GE(pipes.kept(), 1u);
  }
  client_side.client.close();
  backend_side.server.close();
  ASSERT_TRUE(unit::run_until(io, [&] { return finished; }));
  EXPECT_EQ(totals.to_backend, 11u);
  EXPECT_EQ(pipes.in_use(), 0u);
}

}  // namespace
}  // namespace poolgate::relay

// A relay::relay under test: between two loopback socket pairs, on an io_context the test runs itself.
#pragma once

#include "poolgate/relay/relay.hpp"

#include "loopback.hpp"

#include <boost/asio/co_spawn.hpp>
#include <gtest/gtest.h>

namespace poolgate::relay {

struct RelayBetweenPairs : ::testing::Test {
  // Relays between client_side.server and backend_side.client; `finished` turns true when relay() returns.
  void start_relay() {
    boost::asio::co_spawn(io, relay(client_side.server, backend_side.client, pipes, totals),
                          [this](std::exception_ptr) { finished = true; });
  }

  PipePool pipes;  // outlives the event loop, as relay() requires
  unit::asio::io_context io;
  unit::SocketPair client_side = unit::connected_pair(io);   // client_side.client plays the client
  unit::SocketPair backend_side = unit::connected_pair(io);  // backend_side.server plays the backend
  RelayTotals totals;
  bool finished = false;
};

}  // namespace poolgate::relay

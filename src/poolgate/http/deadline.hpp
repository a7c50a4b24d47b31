// A deadline for one phase of a client session (waiting for a request, reading its header): when it passes,
// the watched socket's pending operations are cancelled and the session sees `expired`.
#pragma once

#include "poolgate/config/duration.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <memory>

namespace poolgate::http {

// Closes the watched socket's pending operations when time runs out. Shared with the timer's handler, which
// can run after the session is gone; the generation keeps a stale expiry from hitting a later phase.
struct Deadline {
  explicit Deadline(boost::asio::ip::tcp::socket& socket) : timer(socket.get_executor()), watched(&socket) {}
  boost::asio::steady_timer timer;
  boost::asio::ip::tcp::socket* watched;
  std::uint64_t generation = 0;
  bool expired = false;
};

void arm(const std::shared_ptr<Deadline>& deadline, config::Duration after);
void disarm(Deadline& deadline);

}  // namespace poolgate::http

// A deadline for one phase of a client session (waiting for a request, reading its header): when it passes,
// the watched socket's pending operations are cancelled and the session sees `expired`.
#pragma once

#include "poolgate/config/duration.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <memory>

namespace poolgate::http {

// Why lazy: a keep-alive client arms and disarms a deadline for every request, and stopping or moving an Asio
// timer costs a handler run and a new wait each time. So disarm() only forgets the due time, and arm() starts
// the timer only when it is not already set to fire at or before the new due time; a timer that fires early
// finds the real due time and waits on. A session thus starts about one wait per timeout period, not two per
// request.
struct Deadline {
  using Clock = boost::asio::steady_timer::clock_type;
  explicit Deadline(boost::asio::ip::tcp::socket& socket) : timer(socket.get_executor()), watched(&socket) {}
  boost::asio::steady_timer timer;
  boost::asio::ip::tcp::socket* watched;  // null once retired
  Clock::time_point due = Clock::time_point::max();  // max: nothing due
  std::uint64_t generation = 0;  // of the timer's current wait; a superseded wait's handler does nothing
  bool waiting = false;
  bool expired = false;
};

// Due `after` from now (replacing any earlier due time).
void arm(const std::shared_ptr<Deadline>& deadline, config::Duration after);
// Nothing due any more. The timer may still fire; it then finds nothing due and stops.
void disarm(Deadline& deadline);
// The watched socket is going away: the timer stops now, and its handler lets go of the deadline.
void retire(Deadline& deadline);

}  // namespace poolgate::http

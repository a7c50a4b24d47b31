// When an HTTP-mode worker's listener should hold new connections back in the kernel until their first bytes
// arrive (TCP_DEFER_ACCEPT): while clients connect faster than the worker takes them one at a time.
#pragma once

#include <algorithm>

namespace poolgate::server {

// Why adaptive: an HTTP client speaks first, so a deferred accept() finds the request already there, one wake-up
// and no empty read per connection (close x32: 9.8 -> 7.4 system calls per request, +3% requests/s). But it
// also makes the whole connection wait for the request before poolgate sees it, and a lone client pays that in
// latency (close x1: -7% requests/s). A worker that finds several connections waiting each time it drains its
// backlog has clients queueing for it, and gains; one that finds a single connection each time does not.
//
// Turning deferral off does not release the connections the kernel already holds: a silent one among them is
// still accepted only after its SYN-ACK retransmission.
class AcceptDeferral {
 public:
  // Weight of the newest backlog in the running mean of connections per drained backlog.
  static constexpr double kWeight = 1.0 / 8;
  // Deferring begins when the mean reaches kBusy, and ends when it falls below kIdle; the gap keeps a worker
  // near one line from switching at every backlog.
  static constexpr double kBusy = 1.25;
  static constexpr double kIdle = 1.05;
  // A backlog counts as at most this many: a huge one (clients that waited out a --max-connections pause) would
  // otherwise keep the worker deferring long after they stopped queueing.
  static constexpr unsigned kLargestSample = 4;

  // The backlog was drained (accept4() said EAGAIN) after `accepted` connections came out of it since the last
  // wait. True when deferring() changed: the caller sets the listener to match.
  constexpr bool note_drained_backlog(unsigned accepted) {
    // None: the first accept4() after accepting starts, or a spurious wake-up. It says nothing of load.
    if (accepted == 0) return false;
    mean_ += (static_cast<double>(std::min(accepted, kLargestSample)) - mean_) * kWeight;
    const bool wanted = deferring_ ? mean_ >= kIdle : mean_ >= kBusy;
    if (wanted == deferring_) return false;
    deferring_ = wanted;
    return true;
  }

  constexpr bool deferring() const { return deferring_; }

 private:
  double mean_ = 1.0;
  bool deferring_ = false;
};

}  // namespace poolgate::server

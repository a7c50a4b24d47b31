// Low-level loopback socket helpers shared by the test servers and clients.
#pragma once

#include "support/fd.hpp"

#include <chrono>
#include <cstdint>

namespace poolgate::test {

// A non-blocking, close-on-exec TCP socket listening on 127.0.0.1 at a kernel-chosen port.
UniqueFd listen_on_loopback();

// The local port `fd` is bound to.
std::uint16_t local_port(int fd);

// A loopback port that nothing listens on right now, so connecting to it is refused.
std::uint16_t unused_loopback_port();

// Waits until `deadline` for any of `events` on `fd`; returns the revents seen, or 0 if the deadline passed.
short wait_for_events(int fd, short events, std::chrono::steady_clock::time_point deadline);

// Closes `fd` so the peer gets a TCP reset instead of an orderly FIN.
void close_with_reset(UniqueFd& fd);

}  // namespace poolgate::test

// A worker thread's event loop: Asio's own, except that under HTTP load it gathers wake-ups, handling the work
// that arrives during a short wait in one turn instead of waking for each piece (interrupt coalescing).
#pragma once

#include "poolgate/admin/counters.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>

namespace poolgate::server {

// At least this many HTTP requests in flight on one worker make it "under load".
// Fewer, and a wait mostly delays the next event instead of gathering several: with 1 and 4 keep-alive clients
// the rate is the same with and without waiting, with 32 it is 13-19% higher (docs/performance.md).
inline constexpr std::int64_t kRequestsUnderLoad = 8;

// Runs `context` until it is stopped. With `coalesce_wait` > 0, whenever `requests_in_flight` (kept by the
// sessions on this thread) is at least kRequestsUnderLoad, the loop runs everything ready, waits
// `coalesce_wait` without being woken, and looks again, for as long as each look finds work; then it blocks
// as usual. Why: on a busy machine every wake-up of a sleeping worker costs its waker (the backend, the client)
// a context switch, often an inter-processor interrupt; work gathered during a wait is handled in one turn.
void run_event_loop(boost::asio::io_context& context, const admin::LocalGauge& requests_in_flight,
                    std::chrono::nanoseconds coalesce_wait);

}  // namespace poolgate::server

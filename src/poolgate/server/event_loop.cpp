#include "poolgate/server/event_loop.hpp"

#include <sys/prctl.h>

#include <cerrno>
#include <ctime>

namespace poolgate::server {

void run_event_loop(boost::asio::io_context& context, const admin::LocalGauge& requests_in_flight,
                    std::chrono::nanoseconds coalesce_wait) {
  if (coalesce_wait <= std::chrono::nanoseconds::zero()) {
    context.run();
    return;
  }
  // The kernel may stretch a sleep by the thread's timer slack (50 us by default), more than the wait itself.
  ::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(coalesce_wait.count() / 10 + 1), 0, 0, 0);
  const timespec wait{static_cast<std::time_t>(coalesce_wait.count() / 1'000'000'000),
                      static_cast<long>(coalesce_wait.count() % 1'000'000'000)};
  // run_one() blocks only when nothing is ready, so below the load line this is Asio's run() one handler at a
  // time, with no extra system call.
  while (context.run_one() > 0) {
    if (requests_in_flight.load() < kRequestsUnderLoad) continue;
    context.poll();
    while (requests_in_flight.load() >= kRequestsUnderLoad && !context.stopped()) {
      // A sleep, not epoll_wait with a timeout: events arriving now must not wake this thread.
      timespec left = wait;
      while (::nanosleep(&left, &left) != 0 && errno == EINTR) {
      }
      // Nothing came during the wait (the backends are slow, not busy): block again rather than wake up
      // every few microseconds for nothing.
      if (context.poll() == 0) break;
    }
  }
}

}  // namespace poolgate::server

// Covers server::run_event_loop: Asio's loop below the load line, a wait that gathers events under load, and
// no polling when a loaded thread has nothing to do.
#include "poolgate/server/event_loop.hpp"

#include "loopback.hpp"
#include "support/proc_stats.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>

namespace poolgate::server {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The context's loop on a thread of its own, kept running by a work guard, stopped and joined on destruction.
class LoopThread {
 public:
  LoopThread(std::int64_t requests_in_flight, std::chrono::nanoseconds wait)
      : thread_([this, requests_in_flight, wait] {
          tid_ = static_cast<pid_t>(::syscall(SYS_gettid));
          requests_in_flight_.set(requests_in_flight);
          run_event_loop(context_, requests_in_flight_, wait);
          returned_ = true;
        }) {}
  ~LoopThread() {
    stop();
    thread_.join();
  }
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  template <class Handler>
  void post(Handler handler) {
    boost::asio::post(context_, std::move(handler));
  }
  void stop() {
    guard_.reset();
    context_.stop();
  }
  bool returned() const { return returned_; }

  // Context switches the loop thread made because it waited (blocked or slept).
  long voluntary_switches() const {
    std::ifstream status("/proc/self/task/" + std::to_string(tid_.load()) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0) return std::stol(line.substr(line.find(':') + 1));
    }
    return -1;
  }
  bool started() const { return tid_ != 0; }

  bool sleeping() const { return test::in_nanosleep(::getpid(), tid_); }

 private:
  boost::asio::io_context context_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{context_.get_executor()};
  admin::LocalGauge requests_in_flight_;
  std::atomic<pid_t> tid_{0};
  std::atomic<bool> returned_{false};
  std::thread thread_;
};

TEST(EventLoop, BelowTheLoadLineHandlersRunAtOnceAndStopEndsTheLoop) {
  // A wait of ten seconds that must never be taken: fewer exchanges than kRequestsUnderLoad.
  LoopThread loop(kRequestsUnderLoad - 1, 10s);
  for (int i = 0; i < 3; ++i) {
    std::atomic<bool> ran{false};
    loop.post([&] { ran = true; });
    EXPECT_TRUE(unit::eventually([&] { return ran.load(); })) << "handler " << i << " waited";
  }
  loop.stop();
  EXPECT_TRUE(unit::eventually([&] { return loop.returned(); })) << "stop() did not end the loop";
}

TEST(EventLoop, UnderLoadWorkArrivingDuringTheWaitWaitsForItsEnd) {
  constexpr auto kWait = 300ms;
  LoopThread loop(kRequestsUnderLoad, kWait);
  std::atomic<bool> first_ran{false};
  std::atomic<bool> second_ran{false};
  Clock::time_point first_at;
  Clock::time_point second_at;
  loop.post([&] {
    first_at = Clock::now();
    first_ran = true;
  });
  // After the turn that ran the first handler, the loaded loop sleeps: the second must not wake it.
  ASSERT_TRUE(unit::eventually([&] { return first_ran.load() && loop.sleeping(); }, 2 * kWait))
      << "the loaded loop never slept after a turn";
  loop.post([&] {
    second_at = Clock::now();
    second_ran = true;
  });
  ASSERT_TRUE(unit::eventually([&] { return second_ran.load(); }));
  // The sleep began after the first handler and never ends early (1 ms for the clocks' granularity).
  EXPECT_GE(second_at - first_at, kWait - 1ms) << "the second handler woke the sleeping loop";
  loop.stop();
  EXPECT_TRUE(unit::eventually([&] { return loop.returned(); })) << "stop() did not end a sleeping loop";
}

TEST(EventLoop, UnderLoadWithNothingArrivingTheLoopBlocksInsteadOfWakingEveryWait) {
  LoopThread loop(kRequestsUnderLoad, 1ms);
  std::atomic<bool> ran{false};
  loop.post([&] { ran = true; });
  ASSERT_TRUE(unit::eventually([&] { return ran.load() && loop.started(); }));
  const long before = loop.voluntary_switches();
  ASSERT_GE(before, 0);
  // Polling after every 1 ms wait would switch ~300 times in 300 ms; a blocked loop switches not at all.
  std::this_thread::sleep_for(300ms);
  EXPECT_LT(loop.voluntary_switches() - before, 20) << "the loaded but idle loop kept waking up";
}

}  // namespace
}  // namespace poolgate::server

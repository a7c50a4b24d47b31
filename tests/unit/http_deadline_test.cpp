// The lazy deadline of HTTP mode's client sessions: it cancels the watched socket's read when its due time
// passes, never when disarmed, and honours a due time moved later while its timer still waits for an earlier one.
#include "poolgate/http/deadline.hpp"

#include "loopback.hpp"

#include <gtest/gtest.h>

#include <array>
#include <optional>

namespace poolgate::http {
namespace {

using namespace poolgate::unit;

class DeadlineTest : public ::testing::Test {
 protected:
  // A read on the client side of a loopback pair that nothing will ever satisfy but a cancellation.
  void start_read() {
    pair_.client.async_read_some(asio::buffer(sink_), [this](const boost::system::error_code& ec, std::size_t) {
      outcome_ = ec;
    });
  }

  asio::io_context io_;
  SocketPair pair_ = connected_pair(io_);
  std::array<char, 16> sink_{};
  std::optional<boost::system::error_code> outcome_;
  std::shared_ptr<Deadline> deadline_ = std::make_shared<Deadline>(pair_.client);
};

TEST_F(DeadlineTest, APassingDeadlineCancelsTheReadAndSaysSo) {
  start_read();
  arm(deadline_, 20ms);
  ASSERT_TRUE(run_until(io_, [&] { return outcome_.has_value(); }));
  EXPECT_EQ(*outcome_, asio::error::operation_aborted);
  EXPECT_TRUE(deadline_->expired);
}

TEST_F(DeadlineTest, ADisarmedDeadlineCancelsNothingWhenItsTimerFires) {
  start_read();
  arm(deadline_, 20ms);
  disarm(*deadline_);
  ASSERT_TRUE(run_until(io_, [&] { return !deadline_->waiting; })) << "the timer never fired";
  run_for(io_, 50ms);
  EXPECT_FALSE(outcome_.has_value());
  EXPECT_FALSE(deadline_->expired);
}

TEST_F(DeadlineTest, ADueTimeMovedLaterIsKeptThoughTheTimerFiresEarlier) {
  start_read();
  arm(deadline_, 20ms);
  const auto moved = std::chrono::steady_clock::now();
  arm(deadline_, 1s);
  run_for(io_, 150ms);
  EXPECT_FALSE(outcome_.has_value()) << "cancelled at the first due time, which had been moved";
  ASSERT_TRUE(run_until(io_, [&] { return outcome_.has_value(); }));
  EXPECT_EQ(*outcome_, asio::error::operation_aborted);
  EXPECT_GE(std::chrono::steady_clock::now() - moved, 1s);
}

TEST_F(DeadlineTest, ADueTimeMovedEarlierRestartsTheTimer) {
  start_read();
  arm(deadline_, std::chrono::hours(1));
  arm(deadline_, 20ms);
  ASSERT_TRUE(run_until(io_, [&] { return outcome_.has_value(); }));
  EXPECT_TRUE(deadline_->expired);
}

TEST_F(DeadlineTest, ATimeoutTooLongToAddToNowMeansNever) {
  start_read();
  arm(deadline_, config::Duration::max());
  EXPECT_EQ(deadline_->due, Deadline::Clock::time_point::max());
  run_for(io_, 50ms);
  EXPECT_FALSE(outcome_.has_value());
  EXPECT_FALSE(deadline_->expired);
  retire(*deadline_);
}

TEST_F(DeadlineTest, ARetiredDeadlineIsLetGoByItsTimerAtOnce) {
  arm(deadline_, std::chrono::hours(1));
  EXPECT_GT(deadline_.use_count(), 1) << "the waiting timer's handler holds the deadline";
  retire(*deadline_);
  ASSERT_TRUE(run_until(io_, [&] { return deadline_.use_count() == 1; }));
  EXPECT_FALSE(deadline_->expired);
}

}  // namespace
}  // namespace poolgate::http

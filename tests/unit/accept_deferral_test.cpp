// Covers server::AcceptDeferral: a worker defers accepts once clients queue for it (several per drained
// backlog), stops once they come one at a time, and does not switch back and forth near the line.
#include "poolgate/server/accept_deferral.hpp"

#include <gtest/gtest.h>

#include <initializer_list>

namespace poolgate::server {
namespace {

// Feeds `backlogs` in turn; returns how many of them changed the decision.
int feed(AcceptDeferral& deferral, std::initializer_list<unsigned> backlogs, int times = 1) {
  int changes = 0;
  for (int i = 0; i < times; ++i) {
    for (const unsigned accepted : backlogs) changes += deferral.note_drained_backlog(accepted) ? 1 : 0;
  }
  return changes;
}

TEST(AcceptDeferralTest, ClientsArrivingOneAtATimeNeverTurnItOn) {
  AcceptDeferral deferral;
  EXPECT_FALSE(deferral.deferring());
  EXPECT_EQ(feed(deferral, {1}, 1000), 0);
  EXPECT_FALSE(deferral.deferring());
}

TEST(AcceptDeferralTest, OneBurstTurnsItOnOnce) {
  AcceptDeferral deferral;
  EXPECT_TRUE(deferral.note_drained_backlog(10));
  EXPECT_TRUE(deferral.deferring());
  EXPECT_FALSE(deferral.note_drained_backlog(10)) << "a second burst reported a change that did not happen";
  EXPECT_TRUE(deferral.deferring());
}

TEST(AcceptDeferralTest, ASteadyQueueOfOneOrTwoTurnsItOn) {
  // What 32 closing clients look like to a worker that accepts at once: 1.5 connections per backlog.
  AcceptDeferral deferral;
  EXPECT_EQ(feed(deferral, {1, 2}, 20), 1);
  EXPECT_TRUE(deferral.deferring());
}

TEST(AcceptDeferralTest, AfterABurstSingleClientsTurnItOffButNotAtTheFirst) {
  AcceptDeferral deferral;
  ASSERT_TRUE(deferral.note_drained_backlog(10));
  EXPECT_EQ(feed(deferral, {1}, 5), 0);
  EXPECT_TRUE(deferral.deferring()) << "five lone clients after a burst of ten ended the deferral";
  EXPECT_EQ(feed(deferral, {1}, 30), 1);
  EXPECT_FALSE(deferral.deferring());
}

TEST(AcceptDeferralTest, AHugeBacklogWeighsNoMoreThanAFewQueueingClients) {
  // A thousand clients that waited out a pause at the connection cap: without a bound, some sixty lone clients
  // would pass before the worker stopped deferring.
  AcceptDeferral deferral;
  ASSERT_TRUE(deferral.note_drained_backlog(1000));
  EXPECT_EQ(feed(deferral, {1}, 20), 1);
  EXPECT_FALSE(deferral.deferring());
}

TEST(AcceptDeferralTest, BetweenTheLinesItKeepsWhatItWasEitherWay) {
  // One backlog of two in six: a mean near 1.17, above kIdle and below kBusy.
  const std::initializer_list<unsigned> in_between{1, 1, 1, 1, 1, 2};
  AcceptDeferral idle;
  EXPECT_EQ(feed(idle, in_between, 50), 0);
  EXPECT_FALSE(idle.deferring());

  AcceptDeferral busy;
  ASSERT_TRUE(busy.note_drained_backlog(10));
  EXPECT_EQ(feed(busy, in_between, 50), 0);
  EXPECT_TRUE(busy.deferring());
}

TEST(AcceptDeferralTest, AWakeUpWithNothingAcceptedChangesNothing) {
  AcceptDeferral deferral;
  ASSERT_TRUE(deferral.note_drained_backlog(10));
  EXPECT_EQ(feed(deferral, {0}, 1000), 0);
  EXPECT_TRUE(deferral.deferring()) << "empty wake-ups counted as lone clients";
}

}  // namespace
}  // namespace poolgate::server

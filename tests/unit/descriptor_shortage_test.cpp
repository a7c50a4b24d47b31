// Covers server::DescriptorShortage: one report when a shortage begins, none while it goes on, and its end only
// after a quiet spell, with the number of calls that failed in it.
#include "poolgate/server/descriptor_shortage.hpp"

#include <gtest/gtest.h>

namespace poolgate::server {
namespace {

using Clock = DescriptorShortage::Clock;
using namespace std::chrono_literals;

TEST(DescriptorShortageTest, OnlyTheFirstFailureBeginsAShortage) {
  DescriptorShortage shortage;
  const Clock::time_point start{};
  EXPECT_FALSE(shortage.active());
  EXPECT_TRUE(shortage.failed(start));
  EXPECT_TRUE(shortage.active());
  EXPECT_FALSE(shortage.failed(start + 1s));
  EXPECT_FALSE(shortage.failed(start + 2s));
}

TEST(DescriptorShortageTest, ItEndsOnlyAfterAQuietSpellAndCountsTheFailuresInIt) {
  DescriptorShortage shortage;
  const Clock::time_point start{};
  shortage.failed(start);
  shortage.failed(start + 5s);
  shortage.failed(start + 9s);
  // Successes between failures do not end it: descriptors come and go by turns during a shortage.
  EXPECT_EQ(shortage.ended(start + 10s), 0u);
  EXPECT_EQ(shortage.ended(start + 9s + DescriptorShortage::kQuietSpell), 0u);
  EXPECT_TRUE(shortage.active());
  EXPECT_EQ(shortage.ended(start + 9s + DescriptorShortage::kQuietSpell + 1ms), 3u);
  EXPECT_FALSE(shortage.active());
  EXPECT_EQ(shortage.ended(start + 60s), 0u) << "an ended shortage was reported twice";
}

TEST(DescriptorShortageTest, AFailureAfterTheEndBeginsANewShortageCountedAfresh) {
  DescriptorShortage shortage;
  const Clock::time_point start{};
  shortage.failed(start);
  shortage.failed(start + 1s);
  ASSERT_EQ(shortage.ended(start + 30s), 2u);
  EXPECT_TRUE(shortage.failed(start + 31s));
  EXPECT_EQ(shortage.ended(start + 60s), 1u);
}

}  // namespace
}  // namespace poolgate::server

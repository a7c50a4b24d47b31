#include "poolgate/http/fields.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <thread>

namespace poolgate::http {
namespace {

namespace bhttp = boost::beast::http;

TEST(RecyclingAllocator, AFreedBlockServesTheNextRequestOfItsSizeClass) {
  RecyclingAllocator<char> allocator;
  char* first = allocator.allocate(100);
  std::memset(first, 'x', 100);
  allocator.deallocate(first, 100);
  // 97..128 bytes share a class: the block just freed comes back, the heap is not asked again.
  char* second = allocator.allocate(120);
  EXPECT_EQ(second, first);
  std::memset(second, 'y', 120);  // the block has its class's full size (ASan would catch less)
  allocator.deallocate(second, 120);
}

TEST(RecyclingAllocator, BlocksOfOtherClassesAndLargeBlocksAreNotHandedOutForEachOther) {
  RecyclingAllocator<char> allocator;
  char* small = allocator.allocate(40);
  allocator.deallocate(small, 40);
  char* larger = allocator.allocate(200);  // another class: must not get the 64-byte block
  EXPECT_NE(larger, small);
  std::memset(larger, 'z', 200);
  char* huge = allocator.allocate(4096);  // beyond the recycled sizes: straight from the heap, and back to it
  std::memset(huge, 'h', 4096);
  allocator.deallocate(huge, 4096);
  allocator.deallocate(larger, 200);
}

TEST(RecyclingAllocator, ABlockFreedOnAnotherThreadIsUsableThere) {
  RecyclingAllocator<char> allocator;
  char* block = allocator.allocate(300);
  std::thread([&] {
    allocator.deallocate(block, 300);  // joins that thread's recycler, freed when the thread ends
    char* again = allocator.allocate(290);
    EXPECT_EQ(again, block);
    std::memset(again, 'q', 290);
    allocator.deallocate(again, 290);
  }).join();
}

TEST(RecyclingAllocator, ManyBlocksFreedAndTakenAgainAreNeverHandedOutTwice) {
  RecyclingAllocator<char> allocator;
  std::vector<char*> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(allocator.allocate(64));
  for (char* block : blocks) allocator.deallocate(block, 64);
  // More than the recycler keeps: the rest went back to the heap. Taken again, no block may appear twice.
  std::set<char*> handed_out;
  for (int i = 0; i < 1000; ++i) handed_out.insert(allocator.allocate(64));
  EXPECT_EQ(handed_out.size(), 1000u);
  for (char* block : handed_out) allocator.deallocate(block, 64);
}

TEST(Fields, HoldAndEditHeaderFieldsThroughTheRecycler) {
  Fields fields;
  fields.set(bhttp::field::host, "example");
  fields.set("X-Long", std::string(1000, 'v'));  // an element too large for the recycler
  fields.insert(bhttp::field::via, "1.1 a");
  fields.erase(bhttp::field::host);
  fields.set(bhttp::field::host, "other");
  EXPECT_EQ(fields[bhttp::field::host], "other");
  EXPECT_EQ(fields["X-Long"].size(), 1000u);
  EXPECT_EQ(fields[bhttp::field::via], "1.1 a");
}

}  // namespace
}  // namespace poolgate::http

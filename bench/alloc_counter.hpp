// Per-thread allocation totals (count and bytes) kept by the counting allocators in alloc_counter.cpp.
#pragma once

#include <cstdint>

namespace poolgate::bench {

struct AllocCount {
  std::uint64_t allocs = 0;
  std::uint64_t bytes = 0;
};

// The calling thread's running totals. Per thread on purpose: the echo server and background load threads
// do not pollute a benchmark thread's figures, and counting adds no shared cache line to contended runs.
AllocCount thread_alloc_count();

}  // namespace poolgate::bench

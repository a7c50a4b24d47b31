// Counts each thread's heap allocations: replaces every global operator new/delete, and aligned_alloc (Asio's).
#include "alloc_counter.hpp"

#include <cstddef>
#include <cstdlib>
#include <new>

// glibc's implementation behind aligned_alloc/memalign, exported under this name for interposers like ours.
extern "C" void* __libc_memalign(std::size_t alignment, std::size_t size);

namespace poolgate::bench {
namespace {

// Thread-local, hence race-free without atomics: each counter is only ever touched by its own thread.
thread_local AllocCount t_count;

void count(std::size_t size) noexcept {
  ++t_count.allocs;
  t_count.bytes += size;
}

void* counted_malloc(std::size_t size, std::size_t alignment) noexcept {
  count(size);
  if (size == 0) size = 1;
  if (alignment <= alignof(std::max_align_t)) return std::malloc(size);
  return __libc_memalign(alignment, size);
}

void* counted_new(std::size_t size, std::size_t alignment) {
  void* memory = counted_malloc(size, alignment);
  if (memory == nullptr) throw std::bad_alloc();
  return memory;
}

}  // namespace

AllocCount thread_alloc_count() { return t_count; }

}  // namespace poolgate::bench

using poolgate::bench::count;
using poolgate::bench::counted_malloc;
using poolgate::bench::counted_new;
constexpr std::size_t kDefaultAlignment = alignof(std::max_align_t);

void* operator new(std::size_t size) { return counted_new(size, kDefaultAlignment); }
void* operator new[](std::size_t size) { return counted_new(size, kDefaultAlignment); }
void* operator new(std::size_t size, std::align_val_t a) { return counted_new(size, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t size, std::align_val_t a) { return counted_new(size, static_cast<std::size_t>(a)); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size, kDefaultAlignment); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return counted_malloc(size, kDefaultAlignment);
}
void* operator new(std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_malloc(size, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_malloc(size, static_cast<std::size_t>(a));
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

// Asio's aligned_new(): the memory of every async operation and awaitable frame started outside an Asio
// thread-private cache (a handler running inside run()/poll() recycles it instead). Freed with free().
extern "C" void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
  count(size);
  return __libc_memalign(alignment, size);
}

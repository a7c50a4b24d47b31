// The header field container HTTP mode parses into and edits, and the per-thread memory recycler behind it:
// Beast allocates every field of every message on its own, which made header fields most of the heap calls.
#pragma once

#include <boost/beast/http/fields.hpp>

#include <cstddef>
#include <new>

namespace poolgate::http {

namespace detail {
// Blocks of up to kLargestRecycled bytes, by size class, kept after use for the next message on this thread.
void* take_block(std::size_t bytes);
void give_block(void* block, std::size_t bytes) noexcept;
}  // namespace detail

// Hands field memory out from, and back to, the calling thread's recycler. Every instance is interchangeable:
// a block may be given back on another thread than took it (it then joins that thread's recycler).
template <class T>
struct RecyclingAllocator {
  using value_type = T;
  RecyclingAllocator() noexcept = default;
  template <class U>
  RecyclingAllocator(const RecyclingAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor): rebinding
  T* allocate(std::size_t n) { return static_cast<T*>(detail::take_block(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { detail::give_block(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const RecyclingAllocator<U>&) const noexcept {
    return true;
  }
};

using Fields = boost::beast::http::basic_fields<RecyclingAllocator<char>>;

}  // namespace poolgate::http

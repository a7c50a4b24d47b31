#include "poolgate/http/fields.hpp"

#include <array>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
// A recycled block is poisoned while it waits, so AddressSanitizer still reports a use after free of a field.
#define POOLGATE_POISON(block, size) ASAN_POISON_MEMORY_REGION(block, size)
#define POOLGATE_UNPOISON(block, size) ASAN_UNPOISON_MEMORY_REGION(block, size)
#else
#define POOLGATE_POISON(block, size) ((void)(block), (void)(size))
#define POOLGATE_UNPOISON(block, size) ((void)(block), (void)(size))
#endif

namespace poolgate::http::detail {
namespace {

constexpr std::size_t kGranule = 32;  // size classes are multiples of this; a free block holds the list link
constexpr std::size_t kClasses = 16;  // so blocks of up to 512 bytes are recycled: nearly every header field
constexpr std::size_t kLargestRecycled = kGranule * kClasses;
// Per class: enough for the fields of a few dozen messages in flight at once; beyond it memory goes back to
// malloc, so a burst of huge headers does not stay reserved.
constexpr std::size_t kKeptPerClass = 256;

// A recycled block is always allocated at its class's full size, whichever thread later recycles it.
constexpr std::size_t class_bytes(std::size_t size_class) { return (size_class + 1) * kGranule; }
constexpr std::size_t size_class_of(std::size_t bytes) { return (bytes - 1) / kGranule; }

struct FreeBlock {
  FreeBlock* next;
};

class Recycler {
 public:
  Recycler() = default;
  Recycler(const Recycler&) = delete;
  Recycler& operator=(const Recycler&) = delete;
  ~Recycler();

  void* take(std::size_t size_class) {
    FreeBlock*& head = free_[size_class];
    if (head == nullptr) return ::operator new(class_bytes(size_class));
    FreeBlock* block = head;
    POOLGATE_UNPOISON(block, class_bytes(size_class));
    head = block->next;
    --kept_[size_class];
    return block;
  }

  void give(void* memory, std::size_t size_class) noexcept {
    if (kept_[size_class] >= kKeptPerClass) {
      ::operator delete(memory);
      return;
    }
    auto* block = static_cast<FreeBlock*>(memory);
    block->next = free_[size_class];
    free_[size_class] = block;
    ++kept_[size_class];
    POOLGATE_POISON(block, class_bytes(size_class));
  }

 private:
  std::array<FreeBlock*, kClasses> free_{};
  std::array<std::size_t, kClasses> kept_{};
};

// Set when this thread's recycler has been destroyed (thread exit): a message destroyed later on the same
// thread then frees its fields directly. Trivially destructible, so it stays readable after the recycler.
thread_local bool recycler_gone = false;
thread_local Recycler recycler;

Recycler::~Recycler() {
  recycler_gone = true;
  for (std::size_t size_class = 0; size_class < kClasses; ++size_class) {
    FreeBlock* head = free_[size_class];
    while (head != nullptr) {
      POOLGATE_UNPOISON(head, class_bytes(size_class));
      FreeBlock* next = head->next;
      ::operator delete(head);
      head = next;
    }
  }
}

}  // namespace

void* take_block(std::size_t bytes) {
  if (bytes == 0 || bytes > kLargestRecycled) return ::operator new(bytes);
  const std::size_t size_class = size_class_of(bytes);
  return recycler_gone ? ::operator new(class_bytes(size_class)) : recycler.take(size_class);
}

void give_block(void* block, std::size_t bytes) noexcept {
  if (bytes == 0 || bytes > kLargestRecycled || recycler_gone) {
    ::operator delete(block);
    return;
  }
  recycler.give(block, size_class_of(bytes));
}

}  // namespace poolgate::http::detail

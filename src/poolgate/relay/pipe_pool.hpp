// Per-thread pool of kernel pipes for splice(): creating a pipe costs two descriptors and a syscall, so empty
// pipes are kept and reused across connections.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace poolgate::relay {

struct Pipe {
  int read_end = -1;
  int write_end = -1;
};

// How many empty pipes each of `threads` workers may keep: at most 256, and together never more than an eighth
// of the process's descriptor limit, so pipes idle in the caches cannot take the descriptors clients need.
std::size_t pipes_kept_per_thread(unsigned threads);

// How many pipes each of `threads` workers may have at all, kept or carrying bytes: together at most a quarter
// of the descriptor limit. Beyond it a relay copies through a buffer, so a burst of busy connections cannot use
// up, in pipes, the descriptors that accepting clients needs.
std::size_t pipes_allowed_per_thread(unsigned threads);

class PipePool {
 public:
  explicit PipePool(std::size_t max_kept = 256, std::size_t max_total = SIZE_MAX)
      : max_kept_(max_kept), max_total_(max_total) {}
  ~PipePool();
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;

  // A reused or new non-blocking pipe; nullopt when `max_total` pipes exist already or the process is out of
  // descriptors (the caller falls back to read/write).
  std::optional<Pipe> acquire();

  // A pipe with bytes still inside cannot serve another connection: it is closed instead of kept.
  void release(Pipe pipe, bool empty);

  std::size_t kept() const { return free_.size(); }
  // Pipes handed out and not yet released: those carrying bytes right now.
  std::size_t in_use() const { return in_use_; }

 private:
  static void close_pipe(Pipe pipe);

  std::vector<Pipe> free_;
  std::size_t max_kept_;
  std::size_t max_total_;
  std::size_t in_use_ = 0;
};

}  // namespace poolgate::relay

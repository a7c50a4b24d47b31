#include "poolgate/relay/pipe_pool.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

namespace poolgate::relay {

std::size_t pipes_kept_per_thread(unsigned threads) {
  constexpr std::size_t kMostKept = 256;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return kMostKept;
  // Two descriptors per pipe: an eighth of the limit is limit / 16 pipes, shared by the threads.
  const std::size_t affordable = static_cast<std::size_t>(limit.rlim_cur) / 16 / std::max(1u, threads);
  return std::min(kMostKept, affordable);
}

PipePool::~PipePool() {
  for (Pipe pipe : free_) close_pipe(pipe);
}

std::optional<Pipe> PipePool::acquire() {
  if (!free_.empty()) {
    Pipe pipe = free_.back();
    free_.pop_back();
    ++in_use_;
    return pipe;
  }
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return std::nullopt;
  ++in_use_;
  return Pipe{fds[0], fds[1]};
}

void PipePool::release(Pipe pipe, bool empty) {
  --in_use_;
  if (empty && free_.size() < max_kept_) {
    free_.push_back(pipe);
  } else {
    close_pipe(pipe);
  }
}

void PipePool::close_pipe(Pipe pipe) {
  ::close(pipe.read_end);
  ::close(pipe.write_end);
}

}  // namespace poolgate::relay

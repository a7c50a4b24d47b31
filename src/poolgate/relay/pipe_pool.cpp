#include "poolgate/relay/pipe_pool.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

namespace poolgate::relay {

namespace {

// Pipes per thread when each thread may use 1/`share` of the descriptor limit for them (two descriptors each).
std::size_t affordable_pipes(unsigned threads, std::size_t share, std::size_t cap) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return cap;
  return std::min(cap, static_cast<std::size_t>(limit.rlim_cur) / share / 2 / std::max(1u, threads));
}

}  // namespace

std::size_t pipes_kept_per_thread(unsigned threads) { return affordable_pipes(threads, 8, 256); }

std::size_t pipes_allowed_per_thread(unsigned threads) { return affordable_pipes(threads, 4, SIZE_MAX); }

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
  if (in_use_ >= max_total_) return std::nullopt;
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

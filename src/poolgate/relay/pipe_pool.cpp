#include "poolgate/relay/pipe_pool.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace poolgate::relay {

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

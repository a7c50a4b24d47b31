// Covers relay::PipePool: non-blocking pipes, reuse of empty pipes, closing of non-empty ones, the keep limit.
#include "poolgate/relay/pipe_pool.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <vector>

namespace poolgate::relay {
namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

bool both_ends_open(const Pipe& pipe) { return is_open(pipe.read_end) && is_open(pipe.write_end); }
bool both_ends_closed(const Pipe& pipe) { return !is_open(pipe.read_end) && !is_open(pipe.write_end); }

bool has_flag(int fd, int get_command, int flag) { return (::fcntl(fd, get_command) & flag) != 0; }

// Whether nothing can be read from the pipe right now (the read would block).
bool is_empty(const Pipe& pipe) {
  char byte;
  return ::read(pipe.read_end, &byte, 1) == -1 && errno == EAGAIN;
}

bool same_pipe(const Pipe& a, const Pipe& b) { return a.read_end == b.read_end && a.write_end == b.write_end; }

Pipe acquire_from(PipePool& pool) {
  std::optional<Pipe> pipe = pool.acquire();
  EXPECT_TRUE(pipe.has_value()) << "out of descriptors?";
  return pipe.value_or(Pipe{});
}

TEST(PipePool, NewPipeIsNonBlockingCloseOnExecAndWorks) {
  PipePool pool;
  const Pipe pipe = acquire_from(pool);
  ASSERT_TRUE(both_ends_open(pipe));
  EXPECT_NE(pipe.read_end, pipe.write_end);
  for (int fd : {pipe.read_end, pipe.write_end}) {
    EXPECT_TRUE(has_flag(fd, F_GETFL, O_NONBLOCK));
    EXPECT_TRUE(has_flag(fd, F_GETFD, FD_CLOEXEC));
  }
  EXPECT_TRUE(is_empty(pipe));
  ASSERT_EQ(::write(pipe.write_end, "x", 1), 1);
  char byte = 0;
  EXPECT_EQ(::read(pipe.read_end, &byte, 1), 1);
  EXPECT_EQ(byte, 'x');
  pool.release(pipe, true);
}

TEST(PipePool, ReleasedEmptyPipeIsKeptAndReused) {
  PipePool pool;
  const Pipe first = acquire_from(pool);
  pool.release(first, true);
  EXPECT_EQ(pool.kept(), 1u);
  EXPECT_TRUE(both_ends_open(first));

  const Pipe second = acquire_from(pool);
  EXPECT_TRUE(same_pipe(first, second));
  EXPECT_EQ(pool.kept(), 0u);
  pool.release(second, true);
}

TEST(PipePool, AcquireWithNothingKeptCreatesADistinctPipe) {
  PipePool pool;
  const Pipe first = acquire_from(pool);
  const Pipe second = acquire_from(pool);
  EXPECT_FALSE(same_pipe(first, second));
  pool.release(first, true);
  pool.release(second, true);
  EXPECT_EQ(pool.kept(), 2u);
}

TEST(PipePool, NonEmptyPipeIsClosedNotKept) {
  PipePool pool;
  const Pipe dirty = acquire_from(pool);
  ASSERT_EQ(::write(dirty.write_end, "leftover", 8), 8);
  pool.release(dirty, false);
  EXPECT_EQ(pool.kept(), 0u);
  EXPECT_TRUE(both_ends_closed(dirty));

  // Whatever comes next carries none of the leftover bytes.
  const Pipe next = acquire_from(pool);
  EXPECT_TRUE(is_empty(next));
  pool.release(next, true);
}

TEST(PipePool, KeepsNoMoreThanItsLimit) {
  PipePool pool(2);
  std::vector<Pipe> pipes{acquire_from(pool), acquire_from(pool), acquire_from(pool)};
  for (const Pipe& pipe : pipes) pool.release(pipe, true);
  EXPECT_EQ(pool.kept(), 2u);
  EXPECT_TRUE(both_ends_open(pipes[0]));
  EXPECT_TRUE(both_ends_open(pipes[1]));
  EXPECT_TRUE(both_ends_closed(pipes[2]));
}

TEST(PipePool, LimitZeroKeepsNothing) {
  PipePool pool(0);
  const Pipe pipe = acquire_from(pool);
  pool.release(pipe, true);
  EXPECT_EQ(pool.kept(), 0u);
  EXPECT_TRUE(both_ends_closed(pipe));
}

TEST(PipePool, DestructionClosesKeptPipes) {
  Pipe kept;
  {
    PipePool pool;
    kept = acquire_from(pool);
    pool.release(kept, true);
    ASSERT_TRUE(both_ends_open(kept));
  }
  EXPECT_TRUE(both_ends_closed(kept));
}

// Cached pipes must not take the descriptors clients need: at most an eighth of the limit, shared by the threads.
TEST(PipePool, KeptPipesPerThreadFollowTheDescriptorLimit) {
  rlimit original{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &original), 0);
  auto with_soft_limit = [&](rlim_t soft, unsigned threads) {
    rlimit lowered = original;
    lowered.rlim_cur = std::min(soft, original.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &lowered);
    const std::size_t kept = pipes_kept_per_thread(threads);
    ::setrlimit(RLIMIT_NOFILE, &original);
    return kept;
  };
  EXPECT_EQ(with_soft_limit(1024, 2), 32u);  // 64 pipes, 128 descriptors of 1024
  EXPECT_EQ(with_soft_limit(256, 1), 16u);
  EXPECT_EQ(with_soft_limit(16, 2), 0u);
  if (original.rlim_max >= 20000) {
    EXPECT_EQ(with_soft_limit(20000, 2), 256u);  // never more than 256
  }
}

TEST(PipePool, NoMorePipesThanAllowedExistAtOnceKeptOrInUse) {
  PipePool pool(1, 2);
  std::optional<Pipe> first = pool.acquire();
  std::optional<Pipe> second = pool.acquire();
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(pool.acquire().has_value()) << "a third pipe beyond the budget of two";
  pool.release(*first, true);  // kept: counts no more, and is the one handed out next
  std::optional<Pipe> again = pool.acquire();
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(same_pipe(*again, *first));
  pool.release(*again, true);
  pool.release(*second, true);  // over the keep limit of one: closed
  EXPECT_TRUE(both_ends_closed(*second));
  EXPECT_EQ(pool.kept(), 1u);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(PipePool, AQuarterOfTheDescriptorLimitGoesToPipesAtMost) {
  rlimit original{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &original), 0);
  rlimit lowered = original;
  lowered.rlim_cur = 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
  const std::size_t allowed = pipes_allowed_per_thread(2);
  ::setrlimit(RLIMIT_NOFILE, &original);
  EXPECT_EQ(allowed, 64u);  // 2 x 64 pipes x 2 descriptors = 256 of 1024
}

}  // namespace
}  // namespace poolgate::relay

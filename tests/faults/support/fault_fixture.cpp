#include "faults/support/fault_fixture.hpp"

#include <functional>

namespace poolgate::test {

bool FaultTest::raise_descriptor_limit(rlim_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  if (limit.rlim_cur >= wanted) return true;
  limit.rlim_cur = wanted;
  if (limit.rlim_max < wanted) limit.rlim_max = wanted;  // needs CAP_SYS_RESOURCE
  return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

long FaultTest::settled_descriptors(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) {
  long last = proxy_descriptors();
  auto unchanged_since = std::chrono::steady_clock::now();
  wait_until(
      [&] {
        const long now = proxy_descriptors();
        if (now != last) {
          last = now;
          unchanged_since = std::chrono::steady_clock::now();
        }
        return std::chrono::steady_clock::now() - unchanged_since >= quiet;
      },
      timeout, 50ms);
  return last;
}

namespace {

long wait_at_most(const std::function<long()>& measure, long level, std::chrono::milliseconds timeout) {
  long last = measure();
  wait_until(
      [&] {
        last = measure();
        return last <= level;
      },
      timeout, 20ms);
  return last;
}

}  // namespace

long FaultTest::wait_descriptors_at_most(long level, std::chrono::milliseconds timeout) {
  return wait_at_most([this] { return proxy_descriptors(); }, level, timeout);
}

long FaultTest::wait_sockets_at_most(long level, std::chrono::milliseconds timeout) {
  return wait_at_most([this] { return proxy_sockets(); }, level, timeout);
}

}  // namespace poolgate::test

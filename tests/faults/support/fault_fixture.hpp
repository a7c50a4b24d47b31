// The fault scenarios' fixture: poolgate as a process (the integration fixture, with its admin endpoint), plus
// what the scenarios measure about it: descriptors, memory, CPU time, log volume; and the descriptor limit
// raised for thousands of connections.
#pragma once

#include "integration/admin_fixture.hpp"
#include "support/proc_stats.hpp"

#include <sys/resource.h>

#include <regex>

namespace poolgate::test {

class FaultTest : public AdminTest {
 protected:
  // Raises RLIMIT_NOFILE of this process to at least `wanted` (the hard limit too, when permitted): poolgate,
  // started afterwards, inherits it. False if the system refuses.
  static bool raise_descriptor_limit(rlim_t wanted);

  pid_t proxy_pid() { return proxy().pid(); }
  long proxy_descriptors() { return open_descriptors(proxy_pid()); }
  long proxy_sockets() { return open_sockets(proxy_pid()); }
  long proxy_rss_kib() { return resident_kib(proxy_pid()); }

  // poolgate's descriptor count once it has stopped moving (the same for `quiet`), or its last value at the
  // deadline: the level to compare against after a scenario.
  long settled_descriptors(std::chrono::milliseconds quiet = 500ms, std::chrono::milliseconds timeout = 10s);

  // Waits until poolgate holds at most `level` descriptors (sockets); returns the count last seen.
  long wait_descriptors_at_most(long level, std::chrono::milliseconds timeout = 10s);
  long wait_sockets_at_most(long level, std::chrono::milliseconds timeout = 10s);

  std::size_t log_lines() { return proxy().count_log_lines(std::regex(".")); }

  // Sum of a metric's samples (with `labels`) in a fresh scrape.
  double metric(std::string_view name, const std::map<std::string, std::string>& labels = {}) {
    return metric_sum(samples(), name, labels);
  }
};

}  // namespace poolgate::test

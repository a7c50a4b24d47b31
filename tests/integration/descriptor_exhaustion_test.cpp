// Running out of file descriptors: poolgate must neither spin nor grow, must keep its open connections, and
// must serve again once descriptors are free (a regression test: the pool once re-dialed in a tight loop).
#include "poolgate_fixture.hpp"
#include "support/proc_stats.hpp"

namespace poolgate::test {
namespace {

// Descriptors poolgate gets: a few dozen clients exhaust them with the pool on.
constexpr rlim_t kDescriptorLimit = 64;

using DescriptorExhaustionTest = PoolgateTest;

TEST_F(DescriptorExhaustionTest, NoBusyLoopNoGrowthAndServingResumesWhenDescriptorsFree) {
  auto backend = start_echo_server();
  PoolgateProcess& process =
      start_proxy_with_descriptor_limit(kDescriptorLimit, endpoint_args({backend.get()}) + Args{"--threads", "1"});

  std::vector<Client> clients;
  for (int i = 0; i < 60; ++i) {
    if (auto client = Client::try_connect(proxy_port(), 1s)) clients.push_back(std::move(*client));
  }
  ASSERT_TRUE(process.wait_for_log(std::regex("Too many open files"), 5s)) << "descriptors never ran out";

  const double cpu_before = cpu_seconds(process.pid());
  const long rss_before = resident_kib(process.pid());
  const auto observed = 2s;
  EXPECT_TRUE(holds_for([&] { return process.running(); }, observed)) << "poolgate died out of descriptors";
  const double cpu_used = cpu_seconds(process.pid()) - cpu_before;
  // A spinning loop burns the whole 2 s; pausing accepts costs a few milliseconds.
  EXPECT_LT(cpu_used, 0.5) << "poolgate kept a CPU busy while out of descriptors";
  EXPECT_LT(resident_kib(process.pid()) - rss_before, 20 * 1024) << "memory grew while out of descriptors";

  clients.clear();
  EXPECT_TRUE(wait_until([&] { return new_connection_echoes("after the storm"); }, 5s))
      << "serving did not resume once descriptors were free";
}

}  // namespace
}  // namespace poolgate::test

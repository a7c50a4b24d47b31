// A scrape of /metrics after varied traffic passes `promtool check metrics` without a single complaint.
#include "admin_fixture.hpp"
#include "support/socket.hpp"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>

namespace poolgate::test {
namespace {

class AdminPromtoolTest : public AdminTest {};

TEST_F(AdminPromtoolTest, ScrapePassesPromtoolCheckMetrics) {
  ASSERT_EQ(std::system("command -v promtool >/dev/null 2>&1"), 0)
      << "promtool not found: scripts/deps.sh installs it (Debian package prometheus)";
  const auto backend = start_echo_server();
  const auto closing = start_unused_closing_echo_server(500ms);
  const std::string dead = "127.0.0.1:" + std::to_string(unused_loopback_port());
  start_proxy(endpoint_args({backend.get(), closing.get()}) + Args{"--endpoint", dead});
  // The clients start right after one of the closing server's sweeps. A sweep that came while a client's bytes
  // were on their way to a warm socket would reset it: a close that crosses the hand-out, which no proxy can
  // see coming (README, "The pool").
  ASSERT_TRUE(closing->wait_for_next_sweep(2s));
  for (int i = 0; i < 6; ++i) {
    EXPECT_TRUE(new_connection_echoes("some bytes"));  // a client that meets the dead endpoint fails over
  }
  ASSERT_TRUE(wait_for_metrics([&](const auto& m) {
    return metric_sum(m, "poolgate_backend_connect_errors_total", {{"endpoint", dead}}) >= 1 &&
           metric_sum(m, "poolgate_connections_accepted_total") == 6;
  })) << last_scrape_;

  const auto scraped = temp_dir_ / "metrics.txt";
  const auto report = temp_dir_ / "promtool.txt";
  std::ofstream(scraped) << scrape();
  const int status =
      std::system(("promtool check metrics < '" + scraped.string() + "' > '" + report.string() + "' 2>&1").c_str());
  std::ifstream in(report);
  const std::string complaints((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << complaints;
  EXPECT_EQ(complaints, "") << "scrape:\n" << last_scrape_;
}

}  // namespace
}  // namespace poolgate::test

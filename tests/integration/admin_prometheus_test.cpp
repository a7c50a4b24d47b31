// A real Prometheus server (Debian's prometheus package) scrapes poolgate's admin endpoint every second, and
// what poolgate counted comes back through Prometheus's HTTP query API.
#include "admin_fixture.hpp"
#include "support/socket.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <csignal>
#include <cstdlib>
#include <fstream>

namespace poolgate::test {
namespace {

class AdminPrometheusTest : public AdminTest {
 protected:
  // The value of the instant query `query` when it returns exactly one series; nullopt otherwise (no
  // answer yet, no sample yet, or not one series).
  static std::optional<double> query(std::uint16_t prometheus_port, const std::string& query) {
    const auto response = http_get(prometheus_port, "/api/v1/query?query=" + query, "GET", 2s);
    if (!response || response->status != 200) {
      return std::nullopt;
    }
    boost::system::error_code ec;
    const boost::json::value answer = boost::json::parse(response->body, ec);
    if (ec || !answer.is_object()) {
      return std::nullopt;
    }
    const auto* data = answer.as_object().if_contains("data");
    const auto* result = data && data->is_object() ? data->as_object().if_contains("result") : nullptr;
    if (result == nullptr || !result->is_array() || result->as_array().size() != 1) {
      return std::nullopt;
    }
    const auto& value = result->as_array()[0].as_object().at("value").as_array();  // [timestamp, "text"]
    return std::stod(std::string(value[1].as_string()));
  }
};

TEST_F(AdminPrometheusTest, PrometheusScrapesAcceptedConnections) {
  ASSERT_EQ(std::system("command -v prometheus >/dev/null 2>&1"), 0)
      << "prometheus not found: scripts/deps.sh installs it (Debian package prometheus)";
  const auto backend = start_echo_server();
  start_proxy(endpoint_args({backend.get()}));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(new_connection_echoes("counted"));
  }

  const auto config = temp_dir_ / "prometheus.yml";
  std::ofstream(config) << "global:\n"
                           "  scrape_interval: 1s\n"
                           "  evaluation_interval: 1s\n"
                           "scrape_configs:\n"
                           "  - job_name: poolgate\n"
                           "    static_configs:\n"
                           "      - targets: ['127.0.0.1:"
                        << admin_port() << "']\n";
  const std::uint16_t web_port = unused_loopback_port();
  PoolgateProcess prometheus("/usr/bin/prometheus",
                             {"--config.file=" + config.string(),
                              "--storage.tsdb.path=" + (temp_dir_ / "tsdb").string(),
                              "--web.listen-address=127.0.0.1:" + std::to_string(web_port), "--log.level=warn"},
                             temp_dir_ / "prometheus.log");

  std::optional<double> accepted;
  const bool answered = wait_until(
      [&] {
        accepted = query(web_port, "poolgate_connections_accepted_total");
        return accepted && *accepted == 3;
      },
      30s, 200ms);
  EXPECT_TRUE(answered) << "Prometheus answered " << (accepted ? std::to_string(*accepted) : "nothing")
                        << "; its log:\n"
                        << prometheus.log_text();
  EXPECT_TRUE(prometheus.running()) << prometheus.log_text();
  prometheus.send_signal(SIGTERM);
  prometheus.wait_exit(10s);
}

}  // namespace
}  // namespace poolgate::test

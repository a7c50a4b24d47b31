// The admin endpoint tests' fixture: poolgate started like every integration test, plus scraping its /metrics
// and polling on what the scrape says.
#pragma once

#include "poolgate_fixture.hpp"
#include "support/admin.hpp"

#include <functional>
#include <stdexcept>

namespace poolgate::test {

class AdminTest : public PoolgateTest {
 protected:
  // The admin port of the poolgate started last (from its "admin listening on" line).
  std::uint16_t admin_port() {
    const auto port = proxy().admin_port(15s);
    if (!port) {
      throw std::runtime_error("poolgate did not log its admin address");
    }
    return *port;
  }

  std::optional<HttpResponse> get(std::string_view target, std::string_view method = "GET") {
    return http_get(admin_port(), target, method);
  }

  // The body of GET /metrics; "" (and a test failure) if the scrape fails.
  std::string scrape() {
    const auto response = get("/metrics");
    EXPECT_TRUE(response && response->status == 200) << "GET /metrics failed";
    return response ? response->body : "";
  }

  std::vector<MetricSample> samples() { return parse_metrics(scrape()); }

  // Scrapes until `condition` holds for the samples; false at the deadline (the last scrape is kept for the
  // failure message in last_scrape_).
  bool wait_for_metrics(const std::function<bool(const std::vector<MetricSample>&)>& condition,
                        std::chrono::milliseconds timeout = 10s) {
    return wait_until(
        [&] {
          last_scrape_ = scrape();
          return condition(parse_metrics(last_scrape_));
        },
        timeout, 20ms);
  }

  // One client through poolgate: sends `payload`, reads the echo, closes.
  void echo_once(const std::string& payload) {
    Client client = connect_client();
    EXPECT_EQ(client.echo(payload), payload);
  }

  std::string last_scrape_;
};

}  // namespace poolgate::test

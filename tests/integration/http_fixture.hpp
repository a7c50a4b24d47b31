// The HTTP-mode tests' fixture: poolgate with --mode http in front of one HTTP backend, HTTP clients to it, and
// its /metrics read back.
#pragma once

#include "admin_fixture.hpp"
#include "support/http_backend.hpp"
#include "support/http_client.hpp"

#include <string>

namespace poolgate::test {

class HttpModeTest : public AdminTest {
 protected:
  // poolgate --mode http --endpoint <backend>, one worker thread (so pool numbers are exact) unless `more` says.
  void start_http_proxy(const std::string& backend, const Args& more = {}) {
    start_proxy(Args{"--mode", "http", "--endpoint", backend} + more + Args{"--threads", "1"});
  }
  HttpConnection connect_http(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return HttpConnection(proxy_port(), timeout);
  }

  // The sum of an HTTP-mode counter (all endpoints, or those with `labels`) from a fresh scrape.
  double counter(std::string_view name, const std::map<std::string, std::string>& labels = {}) {
    return metric_sum(samples(), name, labels);
  }

  // Waits until poolgate_http_requests_in_flight (all threads) is `expected`; the scrape is in last_scrape_.
  bool requests_in_flight_become(double expected) {
    return wait_for_metrics(
        [expected](const auto& m) { return metric_sum(m, "poolgate_http_requests_in_flight") == expected; });
  }

  // Sends `raw` on a new connection and reads one response: its status, or 0 if none came.
  unsigned status_of_raw_request(std::string_view raw) {
    HttpConnection connection = connect_http();
    if (!connection.send_raw(raw)) return 0;
    const auto response = connection.read_response();
    return response ? response->result_int() : 0;
  }
};

}  // namespace poolgate::test

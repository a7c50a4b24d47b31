// GET /metrics: every family is there with HELP and TYPE, and the numbers are right after known traffic.
#include "admin_fixture.hpp"
#include "support/socket.hpp"

#include "poolgate/version.hpp"

#include <cmath>

namespace poolgate::test {
namespace {

using Labels = std::map<std::string, std::string>;

class AdminMetricsTest : public AdminTest {
 protected:
  Labels endpoint(const LoopbackServer& server) { return {{"endpoint", server.address()}}; }

  std::unique_ptr<LoopbackServer> backend_ = start_echo_server();
};

TEST_F(AdminMetricsTest, EveryFamilyHasHelpAndTypeAndTheControlCountersStartAtZero) {
  start_proxy(endpoint_args({backend_.get()}));
  const std::string text = scrape();
  const std::vector<std::pair<const char*, const char*>> families{
      {"poolgate_build_info", "gauge"},
      {"poolgate_connections_accepted_total", "counter"},
      {"poolgate_connections_active", "gauge"},
      {"poolgate_connections_rejected_total", "counter"},
      {"poolgate_accept_pauses_total", "counter"},
      {"poolgate_accept_deferring_workers", "gauge"},
      {"poolgate_backend_connect_duration_seconds", "histogram"},
      {"poolgate_backend_connect_errors_total", "counter"},
      {"poolgate_pool_hits_total", "counter"},
      {"poolgate_pool_misses_total", "counter"},
      {"poolgate_pool_idle_connections", "gauge"},
      {"poolgate_pool_evictions_total", "counter"},
      {"poolgate_endpoint_up", "gauge"},
      {"poolgate_bytes_total", "counter"},
      {"poolgate_endpoints_reloads_total", "counter"},
      {"poolgate_discovery_refreshes_total", "counter"},
  };
  for (const auto& [name, type] : families) {
    EXPECT_TRUE(has_family(text, name, type)) << name << " missing or not a " << type << ":\n" << text;
  }
  const auto metrics = parse_metrics(text);
  EXPECT_EQ(metric_count(metrics, "poolgate_build_info"), 1u);
  EXPECT_EQ(metric_sum(metrics, "poolgate_build_info", {{"version", kVersion}}), 1) << text;
  for (const char* result : {"success", "failure"}) {
    EXPECT_EQ(metric_count(metrics, "poolgate_discovery_refreshes_total", {{"result", result}}), 1u) << result;
    EXPECT_EQ(metric_sum(metrics, "poolgate_discovery_refreshes_total", {{"result", result}}), 0);
    EXPECT_EQ(metric_count(metrics, "poolgate_endpoints_reloads_total", {{"result", result}}), 1u) << result;
  }
  for (const char* reason : {"idle", "closed_by_peer", "endpoint_removed"}) {
    EXPECT_EQ(metric_count(metrics, "poolgate_pool_evictions_total", {{"reason", reason}, {"endpoint", backend_->address()}}),
              1u)
        << reason;
  }
  EXPECT_EQ(metric_sum(metrics, "poolgate_endpoint_up", endpoint(*backend_)), 1);
  const auto response = get("/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->headers.at("content-type"), "text/plain; version=0.0.4; charset=utf-8");
}

TEST_F(AdminMetricsTest, CountsAcceptedConnectionsAndExactByteTotals) {
  start_proxy(endpoint_args({backend_.get()}));
  const std::string payload(1000, 'x');
  for (int i = 0; i < 5; ++i) {
    echo_once(payload);
  }
  EXPECT_TRUE(wait_for_metrics([&](const auto& m) {
    return metric_sum(m, "poolgate_bytes_total", {{"direction", "to_backend"}}) == 5000 &&
           metric_sum(m, "poolgate_bytes_total", {{"direction", "to_client"}}) == 5000 &&
           metric_sum(m, "poolgate_connections_active") == 0;
  })) << last_scrape_;
  const auto metrics = samples();
  EXPECT_EQ(metric_sum(metrics, "poolgate_connections_accepted_total"), 5);
  EXPECT_EQ(metric_sum(metrics, "poolgate_connections_rejected_total"), 0);
  EXPECT_EQ(metric_sum(metrics, "poolgate_bytes_total", {{"direction", "to_backend"}}), 5000);
  EXPECT_EQ(metric_sum(metrics, "poolgate_bytes_total", {{"direction", "to_client"}}), 5000);
  EXPECT_EQ(metric_sum(metrics, "poolgate_pool_hits_total") + metric_sum(metrics, "poolgate_pool_misses_total"), 5);
}

TEST_F(AdminMetricsTest, OpenConnectionsAreActiveAndTheirBytesShowBeforeTheyEnd) {
  start_proxy(endpoint_args({backend_.get()}));
  Client first = connect_client();
  Client second = connect_client();
  ASSERT_EQ(first.echo("12345"), "12345");
  ASSERT_EQ(second.echo("678"), "678");
  // Byte counts of open connections are published about once a second.
  EXPECT_TRUE(wait_for_metrics([&](const auto& m) {
    return metric_sum(m, "poolgate_connections_active", endpoint(*backend_)) == 2 &&
           metric_sum(m, "poolgate_bytes_total", {{"direction", "to_backend"}}) == 8 &&
           metric_sum(m, "poolgate_bytes_total", {{"direction", "to_client"}}) == 8;
  })) << last_scrape_;
}

TEST_F(AdminMetricsTest, WarmPoolGivesHitsAndRefillDialsFillTheHistogram) {
  start_proxy(endpoint_args({backend_.get()}));
  // Two workers, a warm target of 2 each: 4 idle sockets. Before each client the set is full again, so every
  // client is a hit whichever worker takes it.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(wait_for_metrics([&](const auto& m) {
      return metric_sum(m, "poolgate_pool_idle_connections", endpoint(*backend_)) == 4;
    })) << last_scrape_;
    echo_once("hello");
  }
  ASSERT_TRUE(wait_for_metrics([&](const auto& m) {
    return metric_sum(m, "poolgate_pool_idle_connections", endpoint(*backend_)) == 4 &&
           metric_sum(m, "poolgate_pool_hits_total", endpoint(*backend_)) == 5;
  })) << last_scrape_;
  const auto metrics = samples();
  EXPECT_EQ(metric_sum(metrics, "poolgate_pool_misses_total", endpoint(*backend_)), 0);
  // 4 dials to fill the sets, one replacement per hit; every one succeeded.
  EXPECT_EQ(metric_sum(metrics, "poolgate_backend_connect_duration_seconds_count", endpoint(*backend_)), 9);
  EXPECT_EQ(metric_sum(metrics, "poolgate_backend_connect_errors_total", endpoint(*backend_)), 0);
  EXPECT_GT(metric_sum(metrics, "poolgate_backend_connect_duration_seconds_sum", endpoint(*backend_)), 0);
}

TEST_F(AdminMetricsTest, WithoutPoolingEveryClientIsAMissAndItsDialIsTimed) {
  start_proxy(endpoint_args({backend_.get()}) + Args{"--pool-max-per-endpoint", "0"});
  for (int i = 0; i < 5; ++i) {
    echo_once("hello");
  }
  ASSERT_TRUE(wait_for_metrics([&](const auto& m) {
    return metric_sum(m, "poolgate_connections_accepted_total") == 5 &&
           metric_sum(m, "poolgate_connections_active") == 0;
  })) << last_scrape_;
  const auto metrics = samples();
  const Labels at = endpoint(*backend_);
  EXPECT_EQ(metric_sum(metrics, "poolgate_pool_hits_total", at), 0);
  EXPECT_EQ(metric_sum(metrics, "poolgate_pool_misses_total", at), 5);
  EXPECT_EQ(metric_sum(metrics, "poolgate_pool_idle_connections", at), 0);
  EXPECT_EQ(metric_sum(metrics, "poolgate_backend_connect_duration_seconds_count", at), 5);

  // Buckets are cumulative, ordered by bound, and +Inf equals the count.
  double previous_bound = -1, previous_count = 0;
  std::size_t buckets = 0;
  for (const auto& sample : metrics) {
    if (sample.name != "poolgate_backend_connect_duration_seconds_bucket" ||
        sample.labels.at("endpoint") != backend_->address()) {
      continue;
    }
    ++buckets;
    const double bound = sample.labels.at("le") == "+Inf" ? INFINITY : std::stod(sample.labels.at("le"));
    EXPECT_GT(bound, previous_bound);
    EXPECT_GE(sample.value, previous_count);
    previous_bound = bound;
    previous_count = sample.value;
  }
  EXPECT_GE(buckets, 10u);
  EXPECT_TRUE(std::isinf(previous_bound));
  EXPECT_EQ(previous_count, 5);
}

TEST_F(AdminMetricsTest, DeadEndpointCountsAConnectErrorIsDownAndRejectsClients) {
  const std::string dead = "127.0.0.1:" + std::to_string(unused_loopback_port());
  start_proxy(Args{"--endpoint", dead, "--pool-max-per-endpoint", "0"});
  // The first client's dial is refused: one connect error, the endpoint goes down, the client is closed.
  // The second finds no endpoint up and is closed at once, without a dial.
  for (int i = 0; i < 2; ++i) {
    Client client = connect_client();
    EXPECT_TRUE(client.is_closed_by_peer(5s));
  }
  ASSERT_TRUE(wait_for_metrics([&](const auto& m) {
    return metric_sum(m, "poolgate_connections_rejected_total", {{"reason", "no_backend"}}) == 2;
  })) << last_scrape_;
  const auto metrics = samples();
  EXPECT_EQ(metric_sum(metrics, "poolgate_backend_connect_errors_total", {{"endpoint", dead}}), 1);
  EXPECT_EQ(metric_sum(metrics, "poolgate_endpoint_up", {{"endpoint", dead}}), 0);
  EXPECT_EQ(metric_sum(metrics, "poolgate_connections_accepted_total"), 2);
  EXPECT_EQ(metric_sum(metrics, "poolgate_backend_connect_duration_seconds_count", {{"endpoint", dead}}), 0);
}

TEST_F(AdminMetricsTest, RemovedEndpointEvictionsAndReloadResults) {
  const auto other = start_echo_server();
  const auto file = temp_dir_ / "endpoints.json";
  write_endpoints(file, {backend_->address()});
  start_proxy(Args{"--endpoints", file.string()});
  ASSERT_TRUE(wait_for_metrics([&](const auto& m) {
    return metric_sum(m, "poolgate_pool_idle_connections", endpoint(*backend_)) == 4;
  })) << last_scrape_;

  write_endpoints(file, {other->address()});
  ASSERT_TRUE(wait_for_metrics([&](const auto& m) {
    return metric_sum(m, "poolgate_pool_evictions_total", {{"endpoint", backend_->address()}, {"reason", "endpoint_removed"}}) ==
               4 &&
           metric_sum(m, "poolgate_pool_idle_connections", endpoint(*other)) == 4;
  })) << last_scrape_;
  auto metrics = samples();
  EXPECT_EQ(metric_sum(metrics, "poolgate_endpoints_reloads_total", {{"result", "success"}}), 1);
  EXPECT_EQ(metric_sum(metrics, "poolgate_endpoints_reloads_total", {{"result", "failure"}}), 0);
  EXPECT_EQ(metric_sum(metrics, "poolgate_pool_idle_connections", endpoint(*backend_)), 0);
  EXPECT_EQ(metric_count(metrics, "poolgate_endpoint_up", endpoint(*backend_)), 0u) << "removed endpoint still up";
  EXPECT_EQ(metric_sum(metrics, "poolgate_endpoint_up", endpoint(*other)), 1);

  write_file_atomically(file, R"({"endpoints": ["no-port"]})");
  EXPECT_TRUE(wait_for_metrics([&](const auto& m) {
    return metric_sum(m, "poolgate_endpoints_reloads_total", {{"result", "failure"}}) == 1;
  })) << last_scrape_;
}

TEST_F(AdminMetricsTest, IdleAndClosedByPeerEvictions) {
  const auto closing = start_unused_closing_echo_server(300ms);
  start_proxy(endpoint_args({backend_.get(), closing.get()}) +
              Args{"--pool-max-idle", "200ms", "--pool-cleanup-interval", "100ms"});
  EXPECT_TRUE(wait_for_metrics([&](const auto& m) {
    return metric_sum(m, "poolgate_pool_evictions_total", {{"endpoint", backend_->address()}, {"reason", "idle"}}) >= 1 &&
           metric_sum(m, "poolgate_pool_evictions_total", {{"endpoint", closing->address()}, {"reason", "closed_by_peer"}}) >=
               1;
  })) << last_scrape_;
}

}  // namespace
}  // namespace poolgate::test

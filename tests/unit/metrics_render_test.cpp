// Covers the metrics primitives and the exposition Telemetry renders: per-thread counters summed at scrape
// time, cumulative histogram buckets, label escaping, control counters, and readiness.
#include "poolgate/admin/counters.hpp"
#include "poolgate/admin/stats.hpp"
#include "poolgate/admin/telemetry.hpp"

#include "support/admin.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <sstream>
#include <thread>

namespace poolgate::admin {
namespace {

using namespace std::chrono_literals;
using test::metric_count;
using test::metric_sum;
using test::parse_metrics;

balance::BackendSetPtr set_of(const std::vector<std::string>& keys) {
  auto set = std::make_shared<balance::BackendSet>();
  for (const auto& key : keys) {
    set->backends.push_back(std::make_shared<balance::Backend>(key, key, boost::asio::ip::tcp::endpoint{}));
  }
  return set;
}

TEST(MetricsPrimitivesTest, LocalCounterAddsStoresAndReadsLikeAnInteger) {
  LocalCounter counter;
  ++counter;
  counter += 41;
  EXPECT_EQ(counter.load(), 42u);
  EXPECT_EQ(counter, 42u);
  counter.store(50);
  EXPECT_EQ(counter.load(), 50u);
}

TEST(MetricsPrimitivesTest, OwnerWritesWhileAnotherThreadReadsMonotonically) {
  LocalCounter counter;
  std::atomic<bool> done{false};
  std::thread owner([&] {
    for (int i = 0; i < 200000; ++i) ++counter;
    done = true;
  });
  std::uint64_t last = 0;
  bool monotonic = true;
  while (!done.load()) {
    const std::uint64_t now = counter.load();
    monotonic = monotonic && now >= last;
    last = now;
  }
  owner.join();
  EXPECT_TRUE(monotonic);
  EXPECT_EQ(counter.load(), 200000u);
}

TEST(MetricsPrimitivesTest, HistogramPutsEachObservationInOneBucket) {
  LocalHistogram histogram;
  histogram.observe(50us);    // <= 0.0001
  histogram.observe(100us);   // == 0.0001: bounds are inclusive
  histogram.observe(3ms);     // <= 0.005
  histogram.observe(10s);     // above every bound
  EXPECT_EQ(histogram.bucket(0), 2u);
  EXPECT_EQ(histogram.bucket(5), 1u);
  EXPECT_EQ(histogram.bucket(LocalHistogram::kBuckets), 1u);
  EXPECT_NEAR(histogram.sum_seconds(), 10.00315, 1e-9);
}

TEST(MetricsPrimitivesTest, ControlCountersCountByResult) {
  ControlCounters counters;
  counters.count_reload(ReloadResult::success);
  counters.count_reload(ReloadResult::success);
  counters.count_reload(ReloadResult::failure);
  counters.count_discovery_refresh(DiscoveryResult::failure);
  EXPECT_EQ(counters.reloads(0), 2u);
  EXPECT_EQ(counters.reloads(1), 1u);
  EXPECT_EQ(counters.discovery_refreshes(0), 0u);
  EXPECT_EQ(counters.discovery_refreshes(1), 1u);
}

class TelemetryTest : public ::testing::Test {
 protected:
  TelemetryTest() {
    telemetry_.add_worker(first_);
    telemetry_.add_worker(second_);
  }

  ControlCounters control_;
  Telemetry telemetry_{control_};
  WorkerStats first_;
  WorkerStats second_;
};

TEST_F(TelemetryTest, SumsEveryWorkerPerEndpoint) {
  telemetry_.set_backends(set_of({"10.0.0.1:6443", "10.0.0.2:6443"}));
  first_.accepted += 3;
  second_.accepted += 4;
  first_.bytes_to_backend += 100;
  second_.bytes_to_client += 7;
  ++first_.rejected_no_backend;
  first_.accept_pauses_max_connections += 2;
  ++second_.accept_pauses_max_connections;
  ++second_.accept_pauses_out_of_descriptors;
  second_.accept_deferring.set(1);
  EndpointStats& a1 = first_.endpoint("10.0.0.1:6443");
  EndpointStats& a2 = second_.endpoint("10.0.0.1:6443");
  a1.pool->hits += 2;
  a2.pool->hits += 5;
  a2.pool->misses += 1;
  a1.pool->idle.set(2);
  a2.pool->idle.set(1);
  ++a1.pool->evicted_endpoint_removed;
  a2.active.add(3);
  ++a1.connect_errors;
  a1.pool->connect_duration.observe(200us);
  a2.pool->connect_duration.observe(2s);

  const std::string text = telemetry_.render_metrics();
  const auto metrics = parse_metrics(text);
  const std::map<std::string, std::string> a{{"endpoint", "10.0.0.1:6443"}};
  const std::map<std::string, std::string> b{{"endpoint", "10.0.0.2:6443"}};
  EXPECT_EQ(metric_sum(metrics, "poolgate_connections_accepted_total"), 7);
  EXPECT_EQ(metric_sum(metrics, "poolgate_connections_rejected_total", {{"reason", "no_backend"}}), 1);
  EXPECT_EQ(metric_sum(metrics, "poolgate_accept_pauses_total", {{"reason", "max_connections"}}), 3);
  EXPECT_EQ(metric_sum(metrics, "poolgate_accept_pauses_total", {{"reason", "out_of_descriptors"}}), 1);
  EXPECT_EQ(metric_sum(metrics, "poolgate_accept_deferring_workers"), 1);
  EXPECT_EQ(metric_sum(metrics, "poolgate_bytes_total", {{"direction", "to_backend"}}), 100);
  EXPECT_EQ(metric_sum(metrics, "poolgate_bytes_total", {{"direction", "to_client"}}), 7);
  EXPECT_EQ(metric_sum(metrics, "poolgate_pool_hits_total", a), 7);
  EXPECT_EQ(metric_sum(metrics, "poolgate_pool_misses_total", a), 1);
  EXPECT_EQ(metric_sum(metrics, "poolgate_pool_idle_connections", a), 3);
  EXPECT_EQ(metric_sum(metrics, "poolgate_connections_active", a), 3);
  EXPECT_EQ(metric_sum(metrics, "poolgate_backend_connect_errors_total", a), 1);
  EXPECT_EQ(metric_sum(metrics, "poolgate_pool_evictions_total", {{"endpoint", "10.0.0.1:6443"}, {"reason", "endpoint_removed"}}),
            1);
  // An endpoint in the set that no worker has counted for yet still has its series, at zero.
  EXPECT_EQ(metric_count(metrics, "poolgate_pool_hits_total", b), 1u);
  EXPECT_EQ(metric_sum(metrics, "poolgate_endpoint_up", b), 1);

  EXPECT_EQ(metric_sum(metrics, "poolgate_backend_connect_duration_seconds_count", a), 2);
  EXPECT_NEAR(metric_sum(metrics, "poolgate_backend_connect_duration_seconds_sum", a), 2.0002, 1e-9);
  EXPECT_EQ(metric_sum(metrics, "poolgate_backend_connect_duration_seconds_bucket",
                       {{"endpoint", "10.0.0.1:6443"}, {"le", "0.00025"}}),
            1);
  EXPECT_EQ(metric_sum(metrics, "poolgate_backend_connect_duration_seconds_bucket",
                       {{"endpoint", "10.0.0.1:6443"}, {"le", "1"}}),
            1);
  EXPECT_EQ(metric_sum(metrics, "poolgate_backend_connect_duration_seconds_bucket",
                       {{"endpoint", "10.0.0.1:6443"}, {"le", "2.5"}}),
            2);
  EXPECT_EQ(metric_sum(metrics, "poolgate_backend_connect_duration_seconds_bucket",
                       {{"endpoint", "10.0.0.1:6443"}, {"le", "+Inf"}}),
            2);
}

TEST_F(TelemetryTest, EveryFamilyAppearsOnceAndSamplesFollowTheirFamily) {
  telemetry_.set_backends(set_of({"10.0.0.1:6443"}));
  const std::string text = telemetry_.render_metrics();
  std::map<std::string, int> type_lines;
  std::string current_family;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      current_family = line.substr(7, line.find(' ', 7) - 7);
      ++type_lines[current_family];
    } else if (line[0] != '#') {
      EXPECT_EQ(line.rfind(current_family, 0), 0u) << line << " outside its family " << current_family;
    }
  }
  EXPECT_EQ(type_lines.size(), 22u);
  for (const auto& [family, count] : type_lines) EXPECT_EQ(count, 1) << family;
}

TEST_F(TelemetryTest, HttpCountersAreSummedOverWorkersPerEndpointRefusalsByReasonInFlightOverall) {
  telemetry_.set_backends(set_of({"10.0.0.1:6443"}));
  first_.endpoint("10.0.0.1:6443").http_requests += 3;
  second_.endpoint("10.0.0.1:6443").http_requests += 4;
  ++second_.endpoint("10.0.0.1:6443").http_reused;
  ++first_.endpoint("10.0.0.1:6443").http_retries;
  ++first_.http_refusals.malformed;
  second_.http_refusals.header_too_large += 2;
  first_.http_requests_in_flight.add(3);
  second_.http_requests_in_flight.add(2);
  const auto metrics = parse_metrics(telemetry_.render_metrics());
  EXPECT_EQ(metric_sum(metrics, "poolgate_http_requests_in_flight"), 5);
  EXPECT_EQ(metric_sum(metrics, "poolgate_http_requests_total", {{"endpoint", "10.0.0.1:6443"}}), 7);
  EXPECT_EQ(metric_sum(metrics, "poolgate_http_reused_connections_total", {{"endpoint", "10.0.0.1:6443"}}), 1);
  EXPECT_EQ(metric_sum(metrics, "poolgate_http_retries_total", {{"endpoint", "10.0.0.1:6443"}}), 1);
  EXPECT_EQ(metric_sum(metrics, "poolgate_http_requests_refused_total", {{"reason", "malformed"}}), 1);
  EXPECT_EQ(metric_sum(metrics, "poolgate_http_requests_refused_total", {{"reason", "header_too_large"}}), 2);
  EXPECT_EQ(metric_sum(metrics, "poolgate_http_requests_refused_total", {{"reason", "timeout"}}), 0);
}

TEST_F(TelemetryTest, RemovedEndpointKeepsItsCountersButIsNoLongerUp) {
  telemetry_.set_backends(set_of({"10.0.0.1:6443"}));
  ++first_.endpoint("10.0.0.1:6443").pool->hits;
  telemetry_.set_backends(set_of({"10.0.0.2:6443"}));
  const auto metrics = parse_metrics(telemetry_.render_metrics());
  EXPECT_EQ(metric_sum(metrics, "poolgate_pool_hits_total", {{"endpoint", "10.0.0.1:6443"}}), 1);
  EXPECT_EQ(metric_count(metrics, "poolgate_endpoint_up", {{"endpoint", "10.0.0.1:6443"}}), 0u);
  EXPECT_EQ(metric_count(metrics, "poolgate_endpoint_up", {{"endpoint", "10.0.0.2:6443"}}), 1u);
}

TEST_F(TelemetryTest, ControlCountersAppearByResult) {
  control_.count_reload(ReloadResult::failure);
  control_.count_discovery_refresh(DiscoveryResult::success);
  control_.count_discovery_refresh(DiscoveryResult::success);
  const auto metrics = parse_metrics(telemetry_.render_metrics());
  EXPECT_EQ(metric_sum(metrics, "poolgate_endpoints_reloads_total", {{"result", "success"}}), 0);
  EXPECT_EQ(metric_sum(metrics, "poolgate_endpoints_reloads_total", {{"result", "failure"}}), 1);
  EXPECT_EQ(metric_sum(metrics, "poolgate_discovery_refreshes_total", {{"result", "success"}}), 2);
  EXPECT_EQ(metric_sum(metrics, "poolgate_discovery_refreshes_total", {{"result", "failure"}}), 0);
}

TEST_F(TelemetryTest, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label_value(R"(a"b\c)"), R"(a\"b\\c)");
  EXPECT_EQ(escape_label_value("line\nbreak"), R"(line\nbreak)");
  ++first_.endpoint("odd\"key\\").pool->hits;
  const auto metrics = parse_metrics(telemetry_.render_metrics());
  EXPECT_EQ(metric_sum(metrics, "poolgate_pool_hits_total", {{"endpoint", "odd\"key\\"}}), 1);
}

TEST_F(TelemetryTest, ReadinessNeedsTheListenerAndAnEndpointUpAndEndsWithTheDrain) {
  EXPECT_FALSE(telemetry_.readiness().ready);
  auto set = set_of({"10.0.0.1:6443", "10.0.0.2:6443"});
  telemetry_.set_backends(set);
  EXPECT_EQ(telemetry_.readiness().reason, "not listening yet");
  telemetry_.set_listening(true);
  EXPECT_TRUE(telemetry_.readiness().ready);
  set->backends[0]->active = false;
  EXPECT_TRUE(telemetry_.readiness().ready);
  set->backends[1]->active = false;
  EXPECT_FALSE(telemetry_.readiness().ready);
  EXPECT_NE(telemetry_.readiness().reason.find("no endpoint is up"), std::string::npos);
  set->backends[1]->active = true;
  EXPECT_TRUE(telemetry_.readiness().ready);
  telemetry_.set_draining();
  EXPECT_FALSE(telemetry_.readiness().ready);
  EXPECT_NE(telemetry_.readiness().reason.find("draining"), std::string::npos);
}

}  // namespace
}  // namespace poolgate::admin

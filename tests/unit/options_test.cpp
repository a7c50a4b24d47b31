// Covers config::parse_command_line: defaults, every flag, --endpoint/--endpoints semantics, exit codes.
#include "poolgate/config/options.hpp"

#include "config_test_helpers.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace poolgate::config {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;

constexpr const char* kDefaultEndpointsFile = "/etc/kubernetes/k8s-apiserver-proxy.json";

// Runs parse_command_line on "poolgate <args...>" with stdout and stderr captured, so usage and error text
// can be asserted on instead of cluttering the test output.
class CommandLineTest : public ::testing::Test {
 protected:
  ParsedCommandLine parse(std::vector<std::string> args) {
    args.insert(args.begin(), "poolgate");
    std::vector<const char*> argv;
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    ParsedCommandLine parsed = parse_command_line(static_cast<int>(argv.size()), argv.data());
    out_ = ::testing::internal::GetCapturedStdout();
    err_ = ::testing::internal::GetCapturedStderr();
    return parsed;
  }

  // Parses a command line that must be accepted and returns its options.
  Options parse_ok(std::vector<std::string> args) {
    ParsedCommandLine parsed = parse(std::move(args));
    EXPECT_EQ(parsed.exit_code, 0) << err_;
    if (!parsed.options) {
      ADD_FAILURE() << "command line refused: " << err_;
      return Options{};
    }
    return *parsed.options;
  }

  // Parses a command line that must be refused with exit code 2 and returns what was printed to stderr.
  std::string parse_refused(std::vector<std::string> args) {
    ParsedCommandLine parsed = parse(std::move(args));
    EXPECT_EQ(parsed.exit_code, 2);
    EXPECT_FALSE(parsed.options.has_value());
    return err_;
  }

  std::string out_;
  std::string err_;
};

TEST_F(CommandLineTest, DefaultsMatchK8sApiserverProxy) {
  const Options options = parse_ok({});
  EXPECT_EQ(options.listen, (HostPort{"", 6443}));
  EXPECT_THAT(options.endpoints_file, Optional(std::string(kDefaultEndpointsFile)));
  EXPECT_THAT(options.static_endpoints, IsEmpty());
  EXPECT_EQ(options.kubeconfig, "/etc/kubernetes/kubelet.conf");
  EXPECT_EQ(options.refresh_interval, 30s);
  EXPECT_EQ(options.threads, std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(options.connect_timeout, 10s);
  EXPECT_EQ(options.monitor_interval, 1min);
  EXPECT_EQ(options.drain_timeout, 30s);
  EXPECT_EQ(options.log_level, "info");
  EXPECT_EQ(options.pool_max_per_endpoint, 10u);
  EXPECT_EQ(options.pool_max_idle, 5min);
  EXPECT_EQ(options.pool_cleanup_interval, 1min);
  EXPECT_EQ(options.removed_endpoint_grace, 5s);
  EXPECT_EQ(options.max_connections, 0u);
  // The admin endpoint is reachable from the node itself only, unless the operator says otherwise.
  EXPECT_THAT(options.admin_listen, Optional(HostPort{"127.0.0.1", 9778}));
}

TEST_F(CommandLineTest, ParsesEveryFlag) {
  const Options options = parse_ok({"--listen", "127.0.0.1:7443",
                                    "--endpoints", "/tmp/endpoints.json",
                                    "--endpoint", "10.0.0.1:6443",
                                    "--endpoint", "https://[fd00::2]:6443/",
                                    "--kubeconfig", "/tmp/kubeconfig",
                                    "--refresh-interval", "45s",
                                    "--threads", "3",
                                    "--connect-timeout", "2500ms",
                                    "--monitor-interval", "90s",
                                    "--drain-timeout", "1m30s",
                                    "--log-level", "debug",
                                    "--pool-max-per-endpoint", "4",
                                    "--pool-max-idle", "30s",
                                    "--pool-cleanup-interval", "5s",
                                    "--removed-endpoint-grace", "250ms",
                                    "--max-connections", "5000"});
  EXPECT_EQ(options.listen, (HostPort{"127.0.0.1", 7443}));
  EXPECT_THAT(options.endpoints_file, Optional(std::string("/tmp/endpoints.json")));
  EXPECT_THAT(options.static_endpoints, ElementsAre(HostPort{"10.0.0.1", 6443}, HostPort{"fd00::2", 6443}));
  EXPECT_EQ(options.kubeconfig, "/tmp/kubeconfig");
  EXPECT_EQ(options.refresh_interval, 45s);
  EXPECT_EQ(options.threads, 3u);
  EXPECT_EQ(options.connect_timeout, 2500ms);
  EXPECT_EQ(options.monitor_interval, 90s);
  EXPECT_EQ(options.drain_timeout, 90s);
  EXPECT_EQ(options.log_level, "debug");
  EXPECT_EQ(options.pool_max_per_endpoint, 4u);
  EXPECT_EQ(options.pool_max_idle, 30s);
  EXPECT_EQ(options.pool_cleanup_interval, 5s);
  EXPECT_EQ(options.removed_endpoint_grace, 250ms);
  EXPECT_EQ(options.max_connections, 5000u);
}

TEST_F(CommandLineTest, AcceptsEqualsSyntax) {
  const Options options = parse_ok({"--listen=:0", "--connect-timeout=1s", "--pool-max-per-endpoint=0"});
  EXPECT_EQ(options.listen, (HostPort{"", 0}));
  EXPECT_EQ(options.connect_timeout, 1s);
  EXPECT_EQ(options.pool_max_per_endpoint, 0u);
}

TEST_F(CommandLineTest, EndpointAloneMeansNoFile) {
  const Options options = parse_ok({"--endpoint", "10.0.0.1:6443"});
  EXPECT_EQ(options.endpoints_file, std::nullopt);
  EXPECT_THAT(options.static_endpoints, ElementsAre(HostPort{"10.0.0.1", 6443}));
}

TEST_F(CommandLineTest, EndpointWithEndpointsFileUsesBoth) {
  const Options options = parse_ok({"--endpoint", "10.0.0.1:6443", "--endpoints", "/tmp/endpoints.json"});
  EXPECT_THAT(options.endpoints_file, Optional(std::string("/tmp/endpoints.json")));
  EXPECT_THAT(options.static_endpoints, ElementsAre(HostPort{"10.0.0.1", 6443}));
}

TEST_F(CommandLineTest, EndpointWithDefaultEndpointsFileNamedExplicitlyUsesBoth) {
  const Options options = parse_ok({"--endpoints", kDefaultEndpointsFile, "--endpoint", "10.0.0.1:6443"});
  EXPECT_THAT(options.endpoints_file, Optional(std::string(kDefaultEndpointsFile)));
  EXPECT_THAT(options.static_endpoints, ElementsAre(HostPort{"10.0.0.1", 6443}));
}

TEST_F(CommandLineTest, EndpointsFileAloneReplacesTheDefault) {
  const Options options = parse_ok({"--endpoints", "/tmp/endpoints.json"});
  EXPECT_THAT(options.endpoints_file, Optional(std::string("/tmp/endpoints.json")));
  EXPECT_THAT(options.static_endpoints, IsEmpty());
}

TEST_F(CommandLineTest, ZeroRefreshIntervalDisablesDiscovery) {
  EXPECT_EQ(parse_ok({"--refresh-interval", "0"}).refresh_interval, 0s);
}

TEST_F(CommandLineTest, BadDurationExitsWithTwoAndNamesFlagAndValue) {
  const std::string err = parse_refused({"--connect-timeout", "10"});
  EXPECT_THAT(err, HasSubstr("--connect-timeout"));
  EXPECT_THAT(err, HasSubstr("\"10\""));
}

TEST_F(CommandLineTest, EveryDurationFlagValidatesItsValue) {
  for (const char* flag : {"--refresh-interval", "--connect-timeout", "--monitor-interval", "--drain-timeout",
                           "--pool-max-idle", "--pool-cleanup-interval", "--removed-endpoint-grace"}) {
    SCOPED_TRACE(flag);
    EXPECT_THAT(parse_refused({flag, "1x"}), HasSubstr(flag));
  }
}

TEST_F(CommandLineTest, BadLogLevelExitsWithTwo) { parse_refused({"--log-level", "verbose"}); }

TEST_F(CommandLineTest, AcceptsEveryLogLevel) {
  for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
    EXPECT_EQ(parse_ok({"--log-level", level}).log_level, level);
  }
}

TEST_F(CommandLineTest, BadListenAddressExitsWithTwoAndNamesIt) {
  EXPECT_THAT(parse_refused({"--listen", "127.0.0.1"}), HasSubstr("\"127.0.0.1\""));
}

TEST_F(CommandLineTest, BadEndpointExitsWithTwoAndNamesIt) {
  EXPECT_THAT(parse_refused({"--endpoint", "10.0.0.1:6443", "--endpoint", "fd00::2:6443"}),
              HasSubstr("\"fd00::2:6443\""));
}

TEST_F(CommandLineTest, ZeroCleanupOrMonitorIntervalExitsWithTwo) {
  EXPECT_THAT(parse_refused({"--pool-cleanup-interval", "0s"}), HasSubstr("--pool-cleanup-interval"));
  EXPECT_THAT(parse_refused({"--monitor-interval", "0"}), HasSubstr("--monitor-interval"));
}

TEST_F(CommandLineTest, OutOfRangeNumbersExitWithTwo) {
  parse_refused({"--threads", "0"});
  parse_refused({"--threads", "1025"});
  parse_refused({"--pool-max-per-endpoint", "-1"});
  parse_refused({"--pool-max-per-endpoint", "many"});
}

TEST_F(CommandLineTest, HttpModeAndItsTimeouts) {
  const Options defaults = parse_ok({});
  EXPECT_EQ(defaults.mode, "tcp");
  EXPECT_EQ(defaults.http_idle_timeout, 60s);
  EXPECT_EQ(defaults.http_header_timeout, 10s);

  const Options http = parse_ok({"--mode", "http", "--http-idle-timeout", "90s", "--http-header-timeout", "2s"});
  EXPECT_EQ(http.mode, "http");
  EXPECT_EQ(http.http_idle_timeout, 90s);
  EXPECT_EQ(http.http_header_timeout, 2s);

  EXPECT_THAT(parse_refused({"--mode", "udp"}), HasSubstr("--mode"));
  EXPECT_THAT(parse_refused({"--http-header-timeout", "0s"}), HasSubstr("--http-header-timeout"));
  EXPECT_THAT(parse_refused({"--http-idle-timeout", "soon"}), HasSubstr("soon"));
}

TEST_F(CommandLineTest, CoalesceWaitTakesZeroAndRefusesMoreThanAMillisecond) {
  EXPECT_EQ(parse_ok({}).http_coalesce_wait, 30us);
  EXPECT_EQ(parse_ok({"--http-coalesce-wait", "0"}).http_coalesce_wait, 0us);
  EXPECT_EQ(parse_ok({"--http-coalesce-wait", "100us"}).http_coalesce_wait, 100us);
  EXPECT_EQ(parse_ok({"--http-coalesce-wait", "1ms"}).http_coalesce_wait, 1ms);
  const std::string refused = parse_refused({"--http-coalesce-wait", "2ms"});
  EXPECT_THAT(refused, HasSubstr("--http-coalesce-wait"));
  EXPECT_THAT(refused, HasSubstr("at most 1ms, not 2ms"));
  EXPECT_THAT(parse_refused({"--http-coalesce-wait", "-1us"}), HasSubstr("negative"));
}

TEST_F(CommandLineTest, MaxConnectionsTakesZeroForUnlimitedAndRefusesWhatIsNotACount) {
  EXPECT_EQ(parse_ok({"--max-connections", "0"}).max_connections, 0u);
  EXPECT_EQ(parse_ok({"--max-connections=1"}).max_connections, 1u);
  EXPECT_THAT(parse_refused({"--max-connections", "-1"}), HasSubstr("--max-connections"));
  EXPECT_THAT(parse_refused({"--max-connections", "lots"}), HasSubstr("--max-connections"));
  EXPECT_THAT(parse_refused({"--max-connections", "10000001"}), HasSubstr("--max-connections"));
}

TEST_F(CommandLineTest, UnknownFlagExitsWithTwo) { parse_refused({"--no-such-flag"}); }

TEST_F(CommandLineTest, HelpExitsWithZeroAndListsTheFlags) {
  const ParsedCommandLine parsed = parse({"--help"});
  EXPECT_EQ(parsed.exit_code, 0);
  EXPECT_FALSE(parsed.options.has_value());
  EXPECT_THAT(out_, HasSubstr("--pool-max-per-endpoint"));
  EXPECT_THAT(out_, HasSubstr("--endpoints"));
}

TEST_F(CommandLineTest, VersionExitsWithZeroAndPrintsIt) {
  const ParsedCommandLine parsed = parse({"--version"});
  EXPECT_EQ(parsed.exit_code, 0);
  EXPECT_FALSE(parsed.options.has_value());
  EXPECT_THAT(out_, HasSubstr("poolgate"));
}

}  // namespace
}  // namespace poolgate::config

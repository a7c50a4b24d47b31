// API server discovery end to end: poolgate, started with a kubeconfig, asks a real TLS test API server (one
// of its endpoints: it dials https://<endpoint>) for the API servers, rewrites the endpoints file and sends new
// connections to what it found: loopback echo servers standing in for API servers.
#include "poolgate_fixture.hpp"
#include "support/admin.hpp"
#include "support/kube_objects.hpp"
#include "support/test_api_server.hpp"
#include "support/tls_certs.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <set>

namespace poolgate::test {
namespace {

using Auth = TestApiServerOptions::Auth;

class DiscoveryTest : public PoolgateTest {
 protected:
  DiscoveryTest() {
    for (const char* name : {"alpha", "beta", "gamma"}) backends_[name] = start_tagged_echo_server(name);
  }

  void start_api(Auth auth = Auth::client_certificate, const std::string& token = "") {
    api_ = std::make_unique<TestApiServer>(TestApiServerOptions{server_pair_, auth, ca_.certificate_pem(), token});
  }

  // What kubelet.conf holds on a worker: the cluster CA and the node's client certificate, inline.
  KubeconfigSpec data_kubeconfig() const {
    KubeconfigSpec spec;
    spec.certificate_authority = PemValue::data(ca_.certificate_pem());
    spec.client_certificate = PemValue::data(client_pair_.certificate_pem);
    spec.client_key = PemValue::data(client_pair_.key_pem);
    return spec;
  }

  void write_kubeconfig(const KubeconfigSpec& spec) { write_text_file(kubeconfig_, kubeconfig_yaml(spec)); }

  Args discovery_args(const std::string& interval = "30s") const {
    return {"--kubeconfig", kubeconfig_.string(), "--refresh-interval", interval};
  }

  // Starts poolgate on an endpoints file listing `initial`, discovery on.
  PoolgateProcess& start_with_discovery(const std::vector<std::string>& initial, const Args& extra = {}) {
    write_endpoints(endpoints_file_, initial);
    return start_proxy(Args{"--endpoints", endpoints_file_.string()} + discovery_args() + extra);
  }

  std::string address_of(const std::string& name) const { return backends_.at(name)->address(); }
  std::uint16_t port_of(const std::string& name) const { return backends_.at(name)->port(); }

  // The file as poolgate writes it for these backends: sorted as text, compact JSON.
  std::string file_listing(const std::vector<std::string>& names) const {
    std::vector<std::string> addresses;
    for (const auto& name : names) addresses.push_back(address_of(name));
    std::sort(addresses.begin(), addresses.end());
    std::string list;
    for (const auto& address : addresses) list += (list.empty() ? "\"" : ",\"") + address + "\"";
    return "{\"endpoints\":[" + list + "]}\n";
  }

  [[nodiscard]] bool file_becomes(const std::string& text) const {
    return wait_until([&] { return read_text_file(endpoints_file_) == text; }, 10s);
  }

  // A new client that reached backend `name` through poolgate (its tag line already read). Connections that
  // land on the TLS API server get no tag line and are dropped after a short wait.
  Client connect_to_backend(const std::string& name) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      Client client = connect_client();
      if (client.recv_line(300ms) == name + "\n") return client;
    }
    throw std::runtime_error("20 new connections and none reached " + name);
  }

  // Each of `count` new connections reaches one of `names`, and together they reach all of them.
  ::testing::AssertionResult new_connections_reach_exactly(const std::set<std::string>& names, int count) {
    std::set<std::string> reached;
    for (int i = 0; i < count; ++i) {
      auto client = Client::try_connect(proxy_port());
      const auto line = client ? client->recv_line(1s) : std::nullopt;
      const std::string tag = line ? line->substr(0, line->size() - 1) : "<no tag>";
      if (!names.contains(tag)) return ::testing::AssertionFailure() << "connection " << i << " reached " << tag;
      reached.insert(tag);
    }
    if (reached != names) return ::testing::AssertionFailure() << "only " << reached.size() << " endpoints reached";
    return ::testing::AssertionSuccess();
  }

  // The log line of a refresh that asked `address` and failed, with the reason.
  static std::regex failure_line(const std::string& address, const std::string& reason) {
    return std::regex("warning discovery: asking " + regex_escape(address) + " failed: .*" + reason);
  }

  TestCertificateAuthority ca_;
  KeyAndCertificate server_pair_ = ca_.issue_loopback_server();
  KeyAndCertificate client_pair_ = ca_.issue_client();
  std::unique_ptr<TestApiServer> api_;
  std::map<std::string, std::unique_ptr<LoopbackServer>> backends_;
  const std::filesystem::path endpoints_file_ = temp_dir_ / "endpoints.json";
  const std::filesystem::path kubeconfig_ = temp_dir_ / "kubelet.conf";
};

// poolgate_discovery_refreshes_total{result} as the admin endpoint reports it now (-1 if it cannot be read).
double discovery_refreshes(PoolgateProcess& process, const std::string& result) {
  auto port = process.admin_port();
  if (!port) return -1;
  auto response = http_get(*port, "/metrics");
  if (!response || response->status != 200) return -1;
  return metric_sum(parse_metrics(response->body), "poolgate_discovery_refreshes_total", {{"result", result}});
}

TEST_F(DiscoveryTest, SlicesRewriteTheFileSortedWithMode0600AndNewConnectionsFollowWhileOpenOnesKeepGoing) {
  start_api();
  api_->respond(TestApiServer::kSlicesPath, 200, loopback_slices_json({port_of("beta"), port_of("alpha")}));
  api_->hold_responses(true);  // the first refresh waits until a client is connected
  write_kubeconfig(data_kubeconfig());
  start_with_discovery({api_->address(), address_of("alpha")});
  ASSERT_TRUE(wait_until([&] { return api_->total_requests() >= 1; }, 10s)) << "no refresh right after start";
  Client on_alpha = connect_to_backend("alpha");

  api_->hold_responses(false);
  ASSERT_TRUE(file_becomes(file_listing({"alpha", "beta"}))) << read_text_file(endpoints_file_);
  EXPECT_EQ(std::filesystem::status(endpoints_file_).permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_TRUE(proxy().wait_for_log(std::regex("info discovery: API servers are now .*EndpointSlices.*written to " +
                                              regex_escape(endpoints_file_.string())),
                                   5s));
  ASSERT_TRUE(wait_until([&] { return tag_of_new_connection() == "beta"; }, 5s)) << "beta never reached";
  EXPECT_TRUE(new_connections_reach_exactly({"alpha", "beta"}, 6));
  EXPECT_EQ(on_alpha.echo("still open"), "still open") << "an open connection was disturbed by the change";
  EXPECT_GE(discovery_refreshes(proxy(), "success"), 1) << "the refresh was not counted";
  EXPECT_EQ(discovery_refreshes(proxy(), "failure"), 0);
}

TEST_F(DiscoveryTest, NotReadyEndpointsAreLeftOut) {
  start_api();
  api_->respond(TestApiServer::kSlicesPath, 200,
                endpoint_slice_list_json({{"IPv4", port_of("alpha"), {{{"127.0.0.1"}, true}}},
                                          {"IPv4", port_of("beta"), {{{"127.0.0.1"}, std::nullopt}}},
                                          {"IPv4", port_of("gamma"), {{{"127.0.0.1"}, false}}}}));
  write_kubeconfig(data_kubeconfig());
  start_with_discovery({api_->address()});
  EXPECT_TRUE(file_becomes(file_listing({"alpha", "beta"}))) << read_text_file(endpoints_file_);
}

TEST_F(DiscoveryTest, FallsBackToTheEndpointsObjectWhenSlicesAre404) {
  start_api();  // no slices response configured: 404
  api_->respond(TestApiServer::kEndpointsPath, 200,
                endpoints_object_json({{{"127.0.0.1"}, {}, port_of("alpha")}, {{"127.0.0.1"}, {}, port_of("gamma")}}));
  write_kubeconfig(data_kubeconfig());
  start_with_discovery({api_->address()});
  ASSERT_TRUE(file_becomes(file_listing({"alpha", "gamma"}))) << read_text_file(endpoints_file_);
  EXPECT_TRUE(proxy().wait_for_log(std::regex("API servers are now .*Endpoints\\)"), 5s));
  EXPECT_EQ(api_->requests(TestApiServer::kSlicesPath), 1u);
  EXPECT_EQ(api_->requests(TestApiServer::kEndpointsPath), 1u);
  EXPECT_TRUE(wait_until([&] { return tag_of_new_connection() == "gamma"; }, 5s));
}

TEST_F(DiscoveryTest, KubeconfigWithFilesRelativeToItsDirectory) {
  start_api();
  api_->respond(TestApiServer::kSlicesPath, 200, loopback_slices_json({port_of("gamma")}));
  std::filesystem::create_directory(temp_dir_ / "pki");
  write_text_file(temp_dir_ / "pki" / "ca.crt", ca_.certificate_pem());
  // kubelet keeps certificate and key in one file and names it twice.
  write_text_file(temp_dir_ / "pki" / "kubelet-client-current.pem", client_pair_.certificate_pem + client_pair_.key_pem);
  KubeconfigSpec spec;
  spec.certificate_authority = PemValue::file("pki/ca.crt");
  spec.client_certificate = PemValue::file("pki/kubelet-client-current.pem");
  spec.client_key = PemValue::file("pki/kubelet-client-current.pem");
  write_kubeconfig(spec);
  start_with_discovery({api_->address()});
  EXPECT_TRUE(file_becomes(file_listing({"gamma"}))) << read_text_file(endpoints_file_);
}

TEST_F(DiscoveryTest, BearerTokenFromATokenFile) {
  start_api(Auth::bearer_token, "node-token");
  api_->respond(TestApiServer::kSlicesPath, 200, loopback_slices_json({port_of("beta")}));
  write_text_file(temp_dir_ / "token", "node-token\n");
  KubeconfigSpec spec;
  spec.certificate_authority = PemValue::data(ca_.certificate_pem());
  spec.token_file = "token";
  write_kubeconfig(spec);
  start_with_discovery({api_->address()});
  EXPECT_TRUE(file_becomes(file_listing({"beta"}))) << read_text_file(endpoints_file_);
}

TEST_F(DiscoveryTest, InsecureSkipTlsVerifyIsHonouredWithAWarning) {
  start_api();
  api_->respond(TestApiServer::kSlicesPath, 200, loopback_slices_json({port_of("beta")}));
  KubeconfigSpec spec = data_kubeconfig();
  spec.certificate_authority.reset();
  spec.insecure_skip_tls_verify = true;
  write_kubeconfig(spec);
  start_with_discovery({api_->address()});
  EXPECT_TRUE(file_becomes(file_listing({"beta"}))) << read_text_file(endpoints_file_);
  EXPECT_EQ(proxy().count_log_lines(std::regex("warning discovery: kubeconfig .* sets insecure-skip-tls-verify")), 1u);
}

TEST_F(DiscoveryTest, AnUntrustedServerCertificateChangesNothingAndIsLoggedWithTheEndpoint) {
  start_api();
  api_->respond(TestApiServer::kSlicesPath, 200, loopback_slices_json({port_of("beta")}));
  const TestCertificateAuthority other_ca("not-the-cluster-ca");
  KubeconfigSpec spec = data_kubeconfig();
  spec.certificate_authority = PemValue::data(other_ca.certificate_pem());
  write_kubeconfig(spec);
  start_with_discovery({api_->address(), address_of("alpha")});
  const std::string before = read_text_file(endpoints_file_);

  // alpha is an echo server, not TLS: whichever order they are asked in, both attempts fail.
  EXPECT_TRUE(proxy().wait_for_log(
      failure_line(api_->address(), "the server certificate is not trusted for 127\\.0\\.0\\.1: "
                                    "(unable to get local issuer certificate|self-signed certificate in certificate chain)"),
      10s));
  EXPECT_TRUE(proxy().wait_for_log(std::regex("none of the 2 endpoint\\(s\\) answered; endpoints unchanged"), 10s));
  EXPECT_EQ(read_text_file(endpoints_file_), before);
  EXPECT_EQ(api_->total_requests(), 0u) << "a request went to a server whose certificate was not trusted";
  EXPECT_NO_THROW(connect_to_backend("alpha")) << "the proxy stopped serving";
}

TEST_F(DiscoveryTest, Unauthorized401ChangesNothingAndIsLogged) {
  start_api(Auth::bearer_token, "right-token");
  api_->respond(TestApiServer::kSlicesPath, 200, loopback_slices_json({port_of("beta")}));
  KubeconfigSpec spec;
  spec.certificate_authority = PemValue::data(ca_.certificate_pem());
  spec.token = "wrong-token";
  write_kubeconfig(spec);
  start_with_discovery({api_->address()});
  const std::string before = read_text_file(endpoints_file_);
  EXPECT_TRUE(proxy().wait_for_log(
      failure_line(api_->address(), "EndpointSlices: HTTP 401 Unauthorized.*; Endpoints: HTTP 401 Unauthorized"), 10s));
  EXPECT_TRUE(proxy().wait_for_log(std::regex("endpoints unchanged"), 5s));
  EXPECT_EQ(read_text_file(endpoints_file_), before);
  EXPECT_EQ(api_->total_requests(), 2u);
  EXPECT_TRUE(wait_until([&] { return discovery_refreshes(proxy(), "failure") >= 1; }, 5s))
      << "the failed refresh was not counted";
}

TEST_F(DiscoveryTest, AnEmptyListChangesNothing) {
  start_api();
  api_->respond(TestApiServer::kSlicesPath, 200, endpoint_slice_list_json({}));
  write_kubeconfig(data_kubeconfig());
  start_with_discovery({api_->address()});
  const std::string before = read_text_file(endpoints_file_);
  EXPECT_TRUE(proxy().wait_for_log(
      std::regex("warning discovery: " + regex_escape(api_->address()) +
                 " lists no ready API server \\(EndpointSlices\\); endpoints unchanged"),
      10s));
  EXPECT_EQ(read_text_file(endpoints_file_), before);
}

TEST_F(DiscoveryTest, AnUnchangedAnswerWritesNothing) {
  start_api();
  api_->respond(TestApiServer::kSlicesPath, 200, loopback_slices_json({api_->port(), port_of("alpha")}));
  write_kubeconfig(data_kubeconfig());
  start_with_discovery({address_of("alpha"), api_->address()}, {"--log-level", "debug"});
  struct stat before {};
  ASSERT_EQ(::stat(endpoints_file_.c_str(), &before), 0);
  const std::string content = read_text_file(endpoints_file_);
  EXPECT_TRUE(proxy().wait_for_log(std::regex("debug discovery: endpoints unchanged \\(2, from "), 10s));
  struct stat after {};
  ASSERT_EQ(::stat(endpoints_file_.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino) << "the file was rewritten";
  EXPECT_EQ(read_text_file(endpoints_file_), content);
}

TEST_F(DiscoveryTest, AnEndpointThatFailsIsSkippedAndTheNextOneAsked) {
  // The API server on 127.0.0.2 sorts after an endpoint on 127.0.0.1 that accepts connections but does not speak
  // TLS; both are active, so a refresh asks that one first.
  TestApiServerOptions options{server_pair_, Auth::client_certificate, ca_.certificate_pem(), ""};
  options.bind_address = "127.0.0.2";
  api_ = std::make_unique<TestApiServer>(options);
  api_->respond(TestApiServer::kSlicesPath, 200, loopback_slices_json({port_of("alpha")}));
  const auto not_tls = start_echo_server();
  write_kubeconfig(data_kubeconfig());
  start_with_discovery({not_tls->address(), api_->address()});
  EXPECT_TRUE(file_becomes(file_listing({"alpha"}))) << read_text_file(endpoints_file_);
  EXPECT_TRUE(proxy().wait_for_log(failure_line(not_tls->address(), "TLS handshake: "), 5s));
  EXPECT_EQ(proxy().count_log_lines(std::regex("discovery: asking .* failed")), 1u);
}

TEST_F(DiscoveryTest, AShortIntervalIsRaisedTo15sWithAWarningAndTheFirstRefreshRunsAtStart) {
  start_api();
  api_->respond(TestApiServer::kSlicesPath, 200, loopback_slices_json({port_of("alpha")}));
  write_kubeconfig(data_kubeconfig());
  write_endpoints(endpoints_file_, {api_->address()});
  const auto started = std::chrono::steady_clock::now();
  start_proxy(Args{"--endpoints", endpoints_file_.string()} + discovery_args("5s"));
  EXPECT_TRUE(proxy().wait_for_log(std::regex("warning --refresh-interval 5s is below the minimum of 15s; using 15s"), 5s));
  EXPECT_TRUE(proxy().wait_for_log(std::regex("discovery on: .* every 15s"), 5s));
  ASSERT_TRUE(file_becomes(file_listing({"alpha"})));
  EXPECT_LT(elapsed_since(started), 10s) << "the first refresh did not run right after start";
  EXPECT_EQ(proxy().count_log_lines(std::regex("below the minimum")), 1u);
}

TEST_F(DiscoveryTest, AnExecPluginTurnsDiscoveryOffWithOneErrorAndTheProxyKeepsServing) {
  start_api();
  api_->respond(TestApiServer::kSlicesPath, 200, loopback_slices_json({port_of("beta")}));
  KubeconfigSpec spec = data_kubeconfig();
  spec.client_certificate.reset();
  spec.client_key.reset();
  spec.extra_user_yaml = "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: get-token\n";
  write_kubeconfig(spec);
  start_with_discovery({address_of("alpha"), api_->address()});
  EXPECT_TRUE(proxy().wait_for_log(
      std::regex("error discovery off: kubeconfig .*users\\[0\\]\\.user\\.exec: credential plugins are not supported"),
      10s));
  EXPECT_NO_THROW(connect_to_backend("alpha")) << "the proxy stopped serving";
  EXPECT_EQ(proxy().count_log_lines(std::regex("discovery off")), 1u);
  EXPECT_EQ(api_->total_requests(), 0u);
  EXPECT_TRUE(proxy().running());
}

TEST_F(DiscoveryTest, SigtermDuringARefreshDrainsAndExitsCleanlyWithoutApplyingIt) {
  start_api();
  api_->respond(TestApiServer::kSlicesPath, 200, loopback_slices_json({port_of("beta")}));
  api_->hold_responses(true);
  write_kubeconfig(data_kubeconfig());
  start_with_discovery({api_->address()}, {"--drain-timeout", "1s"});
  const std::string before = read_text_file(endpoints_file_);
  ASSERT_TRUE(wait_until([&] { return api_->total_requests() >= 1; }, 10s)) << "no refresh right after start";
  proxy().send_signal(SIGTERM);
  EXPECT_EQ(proxy().wait_exit(5s), 0);
  api_->hold_responses(false);
  EXPECT_EQ(read_text_file(endpoints_file_), before);
}

TEST_F(DiscoveryTest, WithoutAnEndpointsFileTheDiscoveredSetReplacesTheFlagsInMemory) {
  start_api();
  api_->respond(TestApiServer::kSlicesPath, 200, loopback_slices_json({port_of("alpha"), port_of("beta")}));
  write_kubeconfig(data_kubeconfig());
  start_proxy(Args{"--endpoint", api_->address()} + discovery_args());
  EXPECT_TRUE(proxy().wait_for_log(std::regex("info discovery: API servers are now .*applied in memory"), 10s));
  ASSERT_TRUE(wait_until([&] { return tag_of_new_connection() == "beta"; }, 5s));
  EXPECT_TRUE(new_connections_reach_exactly({"alpha", "beta"}, 6)) << "the API server given by --endpoint stayed";
  for (const auto& entry : std::filesystem::directory_iterator(temp_dir_.path())) {
    EXPECT_NE(entry.path().extension(), ".json") << "a file was written: " << entry.path();
  }
}

}  // namespace
}  // namespace poolgate::test

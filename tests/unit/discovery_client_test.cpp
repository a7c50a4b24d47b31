// Covers the HTTPS side of discovery against a real TLS test API server in this process: mutual TLS and
// bearer tokens, server verification (CA, IP SANs, tls-server-name, insecure-skip-tls-verify), the Endpoints
// fallback, and every failure a refresh must report (untrusted certificate, 401/403, timeout, refused, not TLS).
#include "poolgate/config/error.hpp"
#include "poolgate/discovery/api_client.hpp"
#include "poolgate/discovery/discovery.hpp"
#include "poolgate/discovery/error.hpp"

#include "config_test_helpers.hpp"
#include "support/kube_objects.hpp"
#include "support/servers.hpp"
#include "support/socket.hpp"
#include "support/test_api_server.hpp"
#include "support/tls_certs.hpp"
#include "support/wait.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace poolgate::discovery {
namespace {

using namespace std::chrono_literals;
using test::TestApiServer;
using test::TestApiServerOptions;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Runs `task` on a fresh io_context to completion; rethrows what it threw.
template <class T>
T run(boost::asio::awaitable<T> task) {
  boost::asio::io_context context;
  std::optional<T> result;
  std::exception_ptr failure;
  boost::asio::co_spawn(context, std::move(task), [&](std::exception_ptr error, T value) {
    if (error) {
      failure = error;
    } else {
      result = std::move(value);
    }
  });
  context.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*result);
}

std::vector<std::string> texts(const std::vector<config::HostPort>& endpoints) {
  std::vector<std::string> out;
  for (const auto& endpoint : endpoints) out.push_back(endpoint.to_string());
  return out;
}

ApiServer loopback(std::uint16_t port, std::string verify_host = "127.0.0.1") {
  return {"127.0.0.1:" + std::to_string(port),
          boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), std::move(verify_host)};
}

class DiscoveryClientTest : public ::testing::Test {
 protected:
  void start_api(TestApiServerOptions::Auth auth = TestApiServerOptions::Auth::client_certificate,
                 std::string token = "") {
    api_ = std::make_unique<TestApiServer>(TestApiServerOptions{server_pair_, auth, ca_.certificate_pem(), token});
    api_->respond(TestApiServer::kSlicesPath, 200,
                  test::endpoint_slice_list_json({{"IPv4", 6443, {{{"10.0.0.2", "10.0.0.1"}, true}}}}));
  }

  // What kubelet.conf holds: the cluster CA, and a client certificate and key.
  Kubeconfig kubeconfig() const {
    Kubeconfig config;
    config.path = "/test/kubelet.conf";
    config.certificate_authority = PemSource{ca_.certificate_pem(), "clusters[0].cluster.certificate-authority-data"};
    config.client_certificate = PemSource{client_pair_.certificate_pem, "users[0].user.client-certificate-data"};
    config.client_key = PemSource{client_pair_.key_pem, "users[0].user.client-key-data"};
    return config;
  }

  FetchResult fetch(const Kubeconfig& config, std::optional<ApiServer> server = std::nullopt,
                    config::Duration timeout = 5s) {
    const ApiClient client(config);
    return run(fetch_api_servers(client, server ? *server : loopback(api_->port()), timeout));
  }

  std::string fetch_error(const Kubeconfig& config, std::optional<ApiServer> server = std::nullopt,
                          config::Duration timeout = 5s) {
    try {
      fetch(config, std::move(server), timeout);
    } catch (const DiscoveryError& error) {
      return error.what();
    }
    return "<no DiscoveryError thrown>";
  }

  test::TestCertificateAuthority ca_;
  test::KeyAndCertificate server_pair_ = ca_.issue_loopback_server();
  test::KeyAndCertificate client_pair_ = ca_.issue_client();
  std::unique_ptr<TestApiServer> api_;
};

TEST_F(DiscoveryClientTest, MutualTlsGetsTheEndpointSlicesWithTheEncodedSelector) {
  start_api();
  const FetchResult result = fetch(kubeconfig());
  EXPECT_THAT(texts(result.endpoints), ElementsAre("10.0.0.1:6443", "10.0.0.2:6443"));
  EXPECT_EQ(result.source, "EndpointSlices");
  EXPECT_THAT(api_->targets(), ElementsAre("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
                                           "?labelSelector=kubernetes.io%2Fservice-name%3Dkubernetes"));
  EXPECT_EQ(api_->handshakes(), 1u);
}

TEST_F(DiscoveryClientTest, FallsBackToTheEndpointsObjectWhenSlicesAre404) {
  start_api();
  api_->respond(TestApiServer::kSlicesPath, 404, R"({"kind":"Status","code":404})");
  api_->respond(TestApiServer::kEndpointsPath, 200, test::endpoints_object_json({{{"10.0.0.7"}, {"10.0.0.8"}, 6443}}));
  const FetchResult result = fetch(kubeconfig());
  EXPECT_THAT(texts(result.endpoints), ElementsAre("10.0.0.7:6443"));
  EXPECT_EQ(result.source, "Endpoints");
  EXPECT_EQ(api_->requests(TestApiServer::kSlicesPath), 1u);
  EXPECT_EQ(api_->requests(TestApiServer::kEndpointsPath), 1u);
}

TEST_F(DiscoveryClientTest, FallsBackWhenTheSlicesAnswerIsMalformed) {
  start_api();
  api_->respond(TestApiServer::kSlicesPath, 200, "{\"items\": [");
  api_->respond(TestApiServer::kEndpointsPath, 200, test::endpoints_object_json({{{"10.0.0.7"}, {}, 6443}}));
  EXPECT_EQ(fetch(kubeconfig()).source, "Endpoints");
}

TEST_F(DiscoveryClientTest, WhenBothRequestsFailTheReasonNamesBoth) {
  start_api();
  api_->respond(TestApiServer::kSlicesPath, 403,
                R"({"kind":"Status","message":"endpointslices.discovery.k8s.io is forbidden","code":403})");
  api_->respond(TestApiServer::kEndpointsPath, 200, "not json");
  EXPECT_EQ(fetch_error(kubeconfig()),
            "EndpointSlices: HTTP 403 Forbidden: endpointslices.discovery.k8s.io is forbidden; "
            "Endpoints: not valid JSON: syntax error");
}

TEST_F(DiscoveryClientTest, AnUntrustedServerCertificateIsReportedAndNothingIsSent) {
  start_api();
  const test::TestCertificateAuthority other_ca("some-other-ca");
  Kubeconfig config = kubeconfig();
  config.certificate_authority->pem = other_ca.certificate_pem();
  // OpenSSL's reason depends on whether the server sends its CA along (this one does, as many do).
  EXPECT_THAT(fetch_error(config),
              ::testing::MatchesRegex("TLS: the server certificate is not trusted for 127\\.0\\.0\\.1: "
                                      "(unable to get local issuer certificate|self-signed certificate in "
                                      "certificate chain)"));
  EXPECT_EQ(api_->total_requests(), 0u);
}

TEST_F(DiscoveryClientTest, TheCertificateMustNameTheEndpointsAddress) {
  start_api();
  EXPECT_EQ(fetch_error(kubeconfig(), loopback(api_->port(), "127.0.0.3")),
            "TLS: the server certificate is not trusted for 127.0.0.3: IP address mismatch");
}

TEST_F(DiscoveryClientTest, TlsServerNameReplacesTheAddressInVerification) {
  start_api();
  Kubeconfig config = kubeconfig();
  config.tls_server_name = "kubernetes.default.svc";
  // The certificate names the DNS name but not this address: tls-server-name makes it acceptable.
  EXPECT_EQ(fetch(config, loopback(api_->port(), "127.0.0.3")).source, "EndpointSlices");
  config.tls_server_name = "kubernetes.example";
  EXPECT_EQ(fetch_error(config),
            "TLS: the server certificate is not trusted for kubernetes.example: hostname mismatch");
}

TEST_F(DiscoveryClientTest, InsecureSkipTlsVerifyAcceptsAnyServerCertificate) {
  start_api();
  const test::TestCertificateAuthority other_ca("some-other-ca");
  Kubeconfig config = kubeconfig();
  config.certificate_authority->pem = other_ca.certificate_pem();
  config.insecure_skip_tls_verify = true;
  EXPECT_EQ(fetch(config).source, "EndpointSlices");
}

TEST_F(DiscoveryClientTest, WithoutAClientCertificateTheServerRefusesAndTheReasonSaysSo) {
  start_api();
  Kubeconfig config = kubeconfig();
  config.client_certificate.reset();
  config.client_key.reset();
  EXPECT_THAT(fetch_error(config), HasSubstr("certificate required"));
  EXPECT_EQ(api_->total_requests(), 0u);
}

TEST_F(DiscoveryClientTest, ACertificateAndKeyInOneFileWorkForBothFields) {
  start_api();
  Kubeconfig config = kubeconfig();
  const std::string both = client_pair_.certificate_pem + client_pair_.key_pem;
  config.client_certificate->pem = both;
  config.client_key->pem = both;
  EXPECT_EQ(fetch(config).source, "EndpointSlices");
}

TEST_F(DiscoveryClientTest, BearerTokenIsSentAndAWrongOneGets401FromBothRequests) {
  start_api(TestApiServerOptions::Auth::bearer_token, "s3cret");
  Kubeconfig config = kubeconfig();
  config.client_certificate.reset();
  config.client_key.reset();
  config.token = "s3cret";
  EXPECT_EQ(fetch(config).source, "EndpointSlices");
  config.token = "wrong";
  EXPECT_EQ(fetch_error(config),
            "EndpointSlices: HTTP 401 Unauthorized: Unauthorized; Endpoints: HTTP 401 Unauthorized: Unauthorized");
}

TEST_F(DiscoveryClientTest, AServerThatNeverAnswersTimesOut) {
  const test::UniqueFd silent = test::listen_on_loopback();  // connects complete in the backlog, nothing answers
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(fetch_error(kubeconfig(), loopback(test::local_port(silent.get())), 300ms),
            "no answer within 300ms (while TLS handshake)");
  EXPECT_LT(test::elapsed_since(started), 3s);
}

TEST_F(DiscoveryClientTest, AnAnswerOverSixteenMebibytesIsRefusedInsteadOfBuffered) {
  start_api();
  api_->respond(TestApiServer::kSlicesPath, 200, std::string(16 * 1024 * 1024 + 1, ' '));
  EXPECT_EQ(fetch_error(kubeconfig()), "reading the response: body limit exceeded");
}

TEST_F(DiscoveryClientTest, ARefusedConnectionIsReported) {
  EXPECT_EQ(fetch_error(kubeconfig(), loopback(test::unused_loopback_port())), "connecting: Connection refused");
}

TEST_F(DiscoveryClientTest, APeerThatDoesNotSpeakTlsFailsTheHandshake) {
  const auto echo = test::start_echo_server();
  EXPECT_THAT(fetch_error(kubeconfig(), loopback(echo->port())), HasSubstr("TLS handshake: "));
}

TEST_F(DiscoveryClientTest, UnusableCertificatesAndKeysNameTheirKubeconfigField) {
  Kubeconfig config = kubeconfig();
  config.certificate_authority->pem = "not a certificate";
  EXPECT_EQ(unit::config_error_message([&] { ApiClient client(config); }),
            "kubeconfig /test/kubelet.conf: clusters[0].cluster.certificate-authority-data: "
            "no PEM certificate (-----BEGIN CERTIFICATE-----) found");

  config = kubeconfig();
  config.client_certificate->pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  EXPECT_THAT(unit::config_error_message([&] { ApiClient client(config); }),
              HasSubstr("users[0].user.client-certificate-data: no PEM certificate"));

  config = kubeconfig();
  config.client_key->pem = client_pair_.certificate_pem;
  EXPECT_EQ(unit::config_error_message([&] { ApiClient client(config); }),
            "kubeconfig /test/kubelet.conf: users[0].user.client-key-data: "
            "no unencrypted PEM private key (-----BEGIN ... PRIVATE KEY-----) found");

  config = kubeconfig();
  config.client_key->pem = ca_.issue_client().key_pem;  // a valid key, but not the certificate's
  EXPECT_THAT(unit::config_error_message([&] { ApiClient client(config); }),
              AllOf(HasSubstr("users[0].user.client-key-data: does not match the client certificate from "
                              "users[0].user.client-certificate-data")));
}

}  // namespace
}  // namespace poolgate::discovery

// Covers the pieces of a refresh around the HTTPS exchange: which endpoints are asked in which order, the
// interval's lower bound, and the atomic rewrite of the endpoints file.
#include "poolgate/balance/backend.hpp"
#include "poolgate/discovery/atomic_file.hpp"
#include "poolgate/discovery/discovery.hpp"
#include "poolgate/discovery/error.hpp"

#include "support/kube_objects.hpp"
#include "support/temp_dir.hpp"
#include "support/test_api_server.hpp"
#include "support/tls_certs.hpp"

#include <boost/asio/io_context.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>

namespace poolgate::discovery {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

balance::BackendPtr backend(const std::string& ip, std::uint16_t port, bool active, std::string origin = "") {
  const boost::asio::ip::tcp::endpoint address(boost::asio::ip::make_address(ip), port);
  std::string key = (address.address().is_v6() ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
  auto result = std::make_shared<balance::Backend>(key, origin.empty() ? key : origin, address);
  result->active.store(active);
  return result;
}

TEST(ApiServersToAsk, ActiveEndpointsFirstEachGroupSortedByKey) {
  balance::BackendSet set;
  set.backends = {backend("10.0.0.1", 6443, false), backend("10.0.0.2", 6443, true), backend("10.0.0.3", 6443, false),
                  backend("10.0.0.4", 6443, true)};
  std::vector<std::string> keys;
  for (const ApiServer& server : api_servers_to_ask(set)) keys.push_back(server.key);
  EXPECT_THAT(keys, ElementsAre("10.0.0.2:6443", "10.0.0.4:6443", "10.0.0.1:6443", "10.0.0.3:6443"));
}

TEST(ApiServersToAsk, VerifiesLiteralsByAddressAndNamedEndpointsByName) {
  balance::BackendSet set;
  set.backends = {backend("10.0.0.1", 6443, true), backend("fd00::1", 6443, true),
                  backend("10.0.0.9", 6443, true, "api.example:6443")};
  const auto servers = api_servers_to_ask(set);
  ASSERT_EQ(servers.size(), 3u);
  EXPECT_EQ(servers[0].verify_host, "10.0.0.1");
  EXPECT_EQ(servers[1].key, "10.0.0.9:6443");
  EXPECT_EQ(servers[1].verify_host, "api.example");
  EXPECT_EQ(servers[2].key, "[fd00::1]:6443");
  EXPECT_EQ(servers[2].verify_host, "fd00::1");
  EXPECT_EQ(servers[2].address.port(), 6443);
}

TEST(RefreshInterval, IsAtLeast15SecondsUnlessOff) {
  EXPECT_EQ(effective_refresh_interval(0s), 0s);
  EXPECT_EQ(effective_refresh_interval(1ms), 15s);
  EXPECT_EQ(effective_refresh_interval(5s), 15s);
  EXPECT_EQ(effective_refresh_interval(15s), 15s);
  EXPECT_EQ(effective_refresh_interval(30s), 30s);
}

// The refresh loop in-process: a Discovery on its own io_context, asking a test API server.
class DiscoveryLoopTest : public ::testing::Test {
 protected:
  DiscoveryLoopTest() {
    api_.respond(test::TestApiServer::kSlicesPath, 200, test::loopback_slices_json({7002, 7001}));
    test::KubeconfigSpec spec;
    spec.certificate_authority = test::PemValue::data(ca_.certificate_pem());
    spec.client_certificate = test::PemValue::data(client_.certificate_pem);
    spec.client_key = test::PemValue::data(client_.key_pem);
    write_kubeconfig(spec);
    options_.kubeconfig = (dir_ / "kubeconfig").string();
    options_.endpoints_file.reset();
    set_->backends = {backend("127.0.0.1", api_.port(), true)};
  }

  void write_kubeconfig(const test::KubeconfigSpec& spec) {
    test::write_text_file(dir_ / "kubeconfig", test::kubeconfig_yaml(spec));
  }

  // Starts discovery and runs until the first refresh has reported its outcome.
  void run_first_refresh() {
    Discovery discovery(context_, options_, [this] { return set_; },
                        [this](const std::vector<config::HostPort>& endpoints) {
                          applied_.push_back(endpoints);
                          return true;
                        });
    discovery.on_refresh([&](bool succeeded) {
      outcomes_.push_back(succeeded);
      discovery.stop();
    });
    ASSERT_TRUE(discovery.start());
    context_.run_for(20s);
  }

  test::TestCertificateAuthority ca_;
  test::KeyAndCertificate client_ = ca_.issue_client();
  test::TestApiServer api_{{ca_.issue_loopback_server(), test::TestApiServerOptions::Auth::client_certificate,
                            ca_.certificate_pem(), ""}};
  test::TempDir dir_;
  config::Options options_;
  std::shared_ptr<balance::BackendSet> set_ = std::make_shared<balance::BackendSet>();
  boost::asio::io_context context_;
  std::vector<std::vector<config::HostPort>> applied_;
  std::vector<bool> outcomes_;
};

TEST_F(DiscoveryLoopTest, RefreshesRightAfterStartAppliesTheSortedListAndReportsSuccess) {
  run_first_refresh();
  ASSERT_EQ(applied_.size(), 1u);
  EXPECT_THAT(applied_[0], ElementsAre(config::HostPort{"127.0.0.1", 7001}, config::HostPort{"127.0.0.1", 7002}));
  EXPECT_THAT(outcomes_, ElementsAre(true));
}

TEST_F(DiscoveryLoopTest, AFailedRefreshAppliesNothingAndReportsFailure) {
  test::KubeconfigSpec spec;  // no client certificate: the API server refuses the connection
  spec.certificate_authority = test::PemValue::data(ca_.certificate_pem());
  write_kubeconfig(spec);
  run_first_refresh();
  EXPECT_TRUE(applied_.empty());
  EXPECT_THAT(outcomes_, ElementsAre(false));
}

TEST_F(DiscoveryLoopTest, AnEmptyListAppliesNothingAndReportsFailure) {
  api_.respond(test::TestApiServer::kSlicesPath, 200, test::endpoint_slice_list_json({}));
  run_first_refresh();
  EXPECT_TRUE(applied_.empty());
  EXPECT_THAT(outcomes_, ElementsAre(false));
}

TEST_F(DiscoveryLoopTest, StaysOffWithoutAKubeconfigOrWithIntervalZero) {
  auto never = [](const std::vector<config::HostPort>&) -> bool { throw std::logic_error("applied"); };
  options_.refresh_interval = 0s;
  EXPECT_FALSE(Discovery(context_, options_, [this] { return set_; }, never).start());
  options_.refresh_interval = 30s;
  options_.kubeconfig = (dir_ / "missing").string();
  EXPECT_FALSE(Discovery(context_, options_, [this] { return set_; }, never).start());
  EXPECT_EQ(context_.run_for(100ms), 0u);
}

TEST(ReplaceFileAtomically, WritesTheContentWithMode0600ByRenameAndLeavesNoTemporaryFile) {
  test::TempDir dir;
  const auto path = dir / "endpoints.json";
  test::write_text_file(path, "old\n");
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                                         std::filesystem::perms::group_read | std::filesystem::perms::others_read);
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);

  replace_file_atomically(path.string(), "{\"endpoints\":[\"10.0.0.1:6443\"]}\n");

  EXPECT_EQ(test::read_text_file(path), "{\"endpoints\":[\"10.0.0.1:6443\"]}\n");
  EXPECT_EQ(std::filesystem::status(path).permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino) << "rewritten in place, not replaced by rename";
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) names.push_back(entry.path().filename());
  EXPECT_THAT(names, ElementsAre("endpoints.json"));
}

TEST(ReplaceFileAtomically, AFailureNamesThePathAndTheStep) {
  try {
    replace_file_atomically("/nonexistent-dir/endpoints.json", "{}");
    FAIL() << "no error";
  } catch (const DiscoveryError& error) {
    EXPECT_STREQ(error.what(),
                 "cannot write /nonexistent-dir/endpoints.json: creating a temporary file in /nonexistent-dir: "
                 "No such file or directory");
  }
}

}  // namespace
}  // namespace poolgate::discovery

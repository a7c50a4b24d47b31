// The admin endpoint's HTTP surface: /healthz, /readyz, 404 for the rest, and how --admin-listen is honoured.
#include "admin_fixture.hpp"

namespace poolgate::test {
namespace {

class AdminHttpTest : public AdminTest {
 protected:
  std::unique_ptr<LoopbackServer> backend_ = start_echo_server();
};

TEST_F(AdminHttpTest, HealthzReadyzAndNotFound) {
  start_proxy(endpoint_args({backend_.get()}));

  const auto healthz = get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);
  EXPECT_EQ(healthz->body, "ok\n");

  const auto readyz = get("/readyz");
  ASSERT_TRUE(readyz);
  EXPECT_EQ(readyz->status, 200) << readyz->body;

  for (const char* target : {"/", "/metricsx", "/metrics/", "/favicon.ico", "/healthz/extra"}) {
    const auto response = get(target);
    ASSERT_TRUE(response) << target;
    EXPECT_EQ(response->status, 404) << target;
  }

  const auto with_query = get("/metrics?name[]=poolgate_build_info");
  ASSERT_TRUE(with_query);
  EXPECT_EQ(with_query->status, 200);

  const auto head = get("/metrics", "HEAD");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());

  const auto post = get("/metrics", "POST");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
}

TEST_F(AdminHttpTest, ReadyzTurns503WhenTheOnlyEndpointDies) {
  start_proxy(endpoint_args({backend_.get()}));
  ASSERT_TRUE(wait_until([&] {
    const auto readyz = get("/readyz");
    return readyz && readyz->status == 200;
  }, 5s));

  backend_->stop();
  // The warm sockets are closed by the dead backend, their replacement dials are refused: the endpoint is down.
  // A client speeds that up if the pool has not noticed yet.
  std::optional<HttpResponse> readyz;
  EXPECT_TRUE(wait_until(
      [&] {
        if (auto client = Client::try_connect(proxy_port(), 1s)) {
          client->is_closed_by_peer(1s);
        }
        readyz = get("/readyz");
        return readyz && readyz->status == 503;
      },
      10s, 50ms));
  ASSERT_TRUE(readyz);
  EXPECT_NE(readyz->body.find("no endpoint is up"), std::string::npos) << readyz->body;

  const auto healthz = get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200) << "the process still runs";
}

TEST_F(AdminHttpTest, EmptyAdminAddressTurnsTheEndpointOff) {
  start_proxy(endpoint_args({backend_.get()}) + Args{"--admin-listen", ""});
  EXPECT_TRUE(new_connection_echoes("still proxying"));
  EXPECT_EQ(proxy().count_log_lines(std::regex("admin listening")), 0u) << proxy().log_text();
}

TEST_F(AdminHttpTest, AdminAddressInUseExitsWithStatus1AndSaysSo) {
  const auto occupant = start_echo_server();
  EXPECT_EQ(run_proxy_until_exit(endpoint_args({backend_.get()}) + Args{"--admin-listen", occupant->address()}), 1);
  EXPECT_NE(proxy().log_text().find("admin address " + occupant->address() + " is already in use"),
            std::string::npos)
      << proxy().log_text();
}

TEST_F(AdminHttpTest, BadAdminAddressIsABadFlag) {
  EXPECT_EQ(run_proxy_until_exit(endpoint_args({backend_.get()}) + Args{"--admin-listen", "127.0.0.1"}), 2);
}

}  // namespace
}  // namespace poolgate::test

// Lifecycle as an operator's tools see it: systemd notifications on a test NOTIFY_SOCKET (READY=1 once
// listening, RELOADING=1 then READY=1 around a reload, STOPPING=1 on SIGTERM), and /readyz during a drain.
#include "admin_fixture.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <csignal>
#include <cstring>
#include <system_error>

namespace poolgate::test {
namespace {

// A unix datagram socket standing in for systemd's notification socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd_) {
      throw std::system_error(errno, std::generic_category(), "socket");
    }
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.string().size() >= sizeof address.sun_path) {
      throw std::runtime_error("notify socket path too long: " + path.string());
    }
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      throw std::system_error(errno, std::generic_category(), "bind " + path.string());
    }
  }

  [[nodiscard]] std::string env() const { return "NOTIFY_SOCKET=" + path_.string(); }

  // Waits for the next datagram that contains `state` (e.g. "READY=1"), keeping every message seen.
  bool wait_for(std::string_view state, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      while (next_unread_ < messages_.size()) {
        if (messages_[next_unread_++].find(state) != std::string::npos) {
          return true;
        }
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) {
        return false;
      }
      pollfd readable{fd_.get(), POLLIN, 0};
      if (::poll(&readable, 1, static_cast<int>(left.count())) > 0) {
        char buffer[4096];
        const ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, 0);
        if (n > 0) {
          messages_.emplace_back(buffer, static_cast<std::size_t>(n));
        }
      }
    }
  }

  [[nodiscard]] std::string all_messages() const {
    std::string all;
    for (const auto& message : messages_) {
      all += "[" + message + "] ";
    }
    return all;
  }

 private:
  std::filesystem::path path_;
  UniqueFd fd_;
  std::vector<std::string> messages_;
  std::size_t next_unread_ = 0;
};

class AdminLifecycleTest : public AdminTest {
 protected:
  std::unique_ptr<LoopbackServer> backend_ = start_echo_server();
  std::unique_ptr<LoopbackServer> other_ = start_echo_server();
};

TEST_F(AdminLifecycleTest, NotifiesSystemdReadyReloadingAndStopping) {
  NotifySocket notify(temp_dir_ / "notify.sock");
  const auto file = temp_dir_ / "endpoints.json";
  write_endpoints(file, {backend_->address()});
  start_proxy(Args{"--endpoints", file.string()}, {notify.env()});

  ASSERT_TRUE(notify.wait_for("READY=1", 10s)) << notify.all_messages();

  proxy().send_signal(SIGHUP);
  ASSERT_TRUE(notify.wait_for("RELOADING=1", 10s)) << notify.all_messages();
  ASSERT_TRUE(notify.wait_for("READY=1", 10s)) << "no READY=1 after the reload: " << notify.all_messages();

  // A change of the file is a reload too.
  write_endpoints(file, {backend_->address(), other_->address()});
  ASSERT_TRUE(notify.wait_for("RELOADING=1", 10s)) << notify.all_messages();
  ASSERT_TRUE(notify.wait_for("READY=1", 10s)) << notify.all_messages();

  proxy().send_signal(SIGTERM);
  EXPECT_TRUE(notify.wait_for("STOPPING=1", 10s)) << notify.all_messages();
  EXPECT_EQ(proxy().wait_exit(10s), 0);
}

TEST_F(AdminLifecycleTest, SigtermMakesReadyz503AtOnceWhileConnectionsDrain) {
  start_proxy(endpoint_args({backend_.get()}) + Args{"--drain-timeout", "20s"});
  const std::uint16_t admin = admin_port();
  std::optional<Client> client = connect_client();
  ASSERT_EQ(client->echo("open"), "open");
  const auto before = http_get(admin, "/readyz");
  ASSERT_TRUE(before);
  ASSERT_EQ(before->status, 200) << before->body;

  const auto signalled_at = std::chrono::steady_clock::now();
  proxy().send_signal(SIGTERM);
  std::optional<HttpResponse> readyz;
  ASSERT_TRUE(wait_until(
      [&] {
        readyz = http_get(admin, "/readyz");
        return readyz && readyz->status == 503;
      },
      2s, 5ms));
  EXPECT_LT(elapsed_since(signalled_at), 1s);
  EXPECT_NE(readyz->body.find("draining"), std::string::npos) << readyz->body;

  // Still draining: the open connection works, the process runs and says it is alive.
  EXPECT_EQ(client->echo("while draining"), "while draining");
  EXPECT_TRUE(proxy().running());
  const auto healthz = http_get(admin, "/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);

  client.reset();
  EXPECT_EQ(proxy().wait_exit(10s), 0);
}

}  // namespace
}  // namespace poolgate::test

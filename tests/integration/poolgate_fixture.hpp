// The fixture every integration test derives from: a scratch dir, poolgate started in front of loopback
// backends with test-friendly defaults, and poolgate's log printed when a test fails.
#pragma once

#include "support/client.hpp"
#include "support/process.hpp"
#include "support/servers.hpp"
#include "support/socket.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace poolgate::test {

using Args = std::vector<std::string>;

// {"endpoints": ["a", "b", ...]}
std::string endpoints_json(const std::vector<std::string>& endpoints);

// "--endpoint A --endpoint B ..." for the given backends.
Args endpoint_args(const std::vector<const LoopbackServer*>& backends);

// The arguments `args` plus `more`.
Args operator+(Args args, const Args& more);

class PoolgateTest : public ::testing::Test {
 protected:
  void TearDown() override;

  // Starts poolgate with `args` (plus defaults for whatever they leave out: a kernel-chosen listen port,
  // discovery off, a short connect timeout, two threads, the admin endpoint on a kernel-chosen loopback port)
  // and waits for its listening line. `env` ("NAME=value") is added to the child's environment.
  // Throws if it does not come up; the log is printed by TearDown.
  PoolgateProcess& start_proxy(const Args& args, const std::vector<std::string>& env = {});

  // start_proxy() with poolgate's descriptor limit (RLIMIT_NOFILE, soft) lowered to `limit`; the test process
  // keeps its own.
  PoolgateProcess& start_proxy_with_descriptor_limit(rlim_t limit, const Args& args);

  // Starts poolgate with `args` (plus the same defaults) and waits for it to exit on its own;
  // nullopt if it is still running after `timeout`.
  std::optional<int> run_proxy_until_exit(const Args& args, std::chrono::milliseconds timeout = 10s);

  // Runs `action` while poolgate is stopped (SIGSTOP), so that what it does (clients connecting, sending)
  // meets poolgate as one burst when it resumes. Resumes however `action` ends: a stopped poolgate would ignore
  // the SIGTERM that ends the test. (An ASSERT in `action` ends only `action`.)
  void while_stopped(const std::function<void()>& action);

  PoolgateProcess& proxy() { return *processes_.back(); }
  [[nodiscard]] std::uint16_t proxy_port() const { return proxy_port_; }
  Client connect_client() const { return Client::connect(proxy_port_); }

  // Connects a new client and returns the backend tag line it receives first ("" if none arrives).
  std::string tag_of_new_connection() const;

  // A fresh connection through poolgate echoes `payload` (a whole client life: connect, echo, close).
  [[nodiscard]] bool new_connection_echoes(const std::string& payload) const;

  // Writes an endpoints file at `path` listing `endpoints`.
  static void write_endpoints(const std::filesystem::path& path, const std::vector<std::string>& endpoints);

  TempDir temp_dir_;

 private:
  PoolgateProcess& launch(const Args& args, const std::vector<std::string>& env = {});

  std::vector<std::unique_ptr<PoolgateProcess>> processes_;
  std::uint16_t proxy_port_ = 0;
};

}  // namespace poolgate::test

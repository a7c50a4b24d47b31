// --log-format json: every line poolgate writes is one JSON object with time, level, message and fields.
#include "admin_fixture.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <csignal>
#include <sstream>

namespace poolgate::test {
namespace {

class AdminLoggingTest : public AdminTest {
 protected:
  std::unique_ptr<LoopbackServer> backend_ = start_echo_server();
};

TEST_F(AdminLoggingTest, EveryJsonLogLineParsesAndHasTimeLevelAndMessage) {
  const auto file = temp_dir_ / "endpoints.json";
  write_endpoints(file, {backend_->address()});
  start_proxy(Args{"--endpoints", file.string(), "--log-format", "json", "--log-level", "debug"});
  EXPECT_TRUE(new_connection_echoes("hello"));
  proxy().send_signal(SIGHUP);
  ASSERT_TRUE(proxy().wait_for_log(std::regex("SIGHUP"), 10s));
  // A rejected file: its message quotes the bad value, with a quote and a backslash in it.
  write_file_atomically(file, R"({"endpoints": ["bad\\\"host"]})");
  ASSERT_TRUE(proxy().wait_for_log(std::regex("endpoints not reloaded"), 10s));
  proxy().send_signal(SIGTERM);
  ASSERT_EQ(proxy().wait_exit(10s), 0);

  const std::regex rfc3339(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)");
  std::istringstream log(proxy().log_text());
  std::size_t lines = 0;
  for (std::string line; std::getline(log, line);) {
    ++lines;
    boost::system::error_code ec;
    const boost::json::value value = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << "not JSON (" << ec.message() << "): " << line;
    ASSERT_TRUE(value.is_object()) << line;
    const auto& object = value.as_object();
    ASSERT_TRUE(object.contains("time") && object.at("time").is_string()) << line;
    ASSERT_TRUE(object.contains("level") && object.at("level").is_string()) << line;
    ASSERT_TRUE(object.contains("message") && object.at("message").is_string()) << line;
    ASSERT_TRUE(object.contains("fields") && object.at("fields").is_object()) << line;
    EXPECT_TRUE(std::regex_match(std::string(object.at("time").as_string()), rfc3339)) << line;
    const std::string level(object.at("level").as_string());
    EXPECT_TRUE(level == "trace" || level == "debug" || level == "info" || level == "warn" || level == "error" ||
                level == "critical")
        << line;
  }
  EXPECT_GE(lines, 5u) << proxy().log_text();
}

TEST_F(AdminLoggingTest, UnknownLogFormatIsABadFlag) {
  EXPECT_EQ(run_proxy_until_exit(endpoint_args({backend_.get()}) + Args{"--log-format", "xml"}), 2);
}

}  // namespace
}  // namespace poolgate::test

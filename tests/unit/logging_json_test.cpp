// Covers the --log-format json formatter: one JSON object per line, valid whatever bytes the message holds.
#include "poolgate/server/logging.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>
#include <spdlog/formatter.h>

#include <regex>

namespace poolgate::server {
namespace {

std::string format(std::string_view message, spdlog::level::level_enum level = spdlog::level::info) {
  auto formatter = make_json_formatter();
  spdlog::details::log_msg msg("poolgate", level, spdlog::string_view_t(message.data(), message.size()));
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  return std::string(out.data(), out.size());
}

TEST(JsonLogFormatTest, OneObjectPerLineWithTimeLevelMessageAndFields) {
  const std::string line = format("endpoint 10.0.0.1:6443 is down", spdlog::level::warn);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const auto value = boost::json::parse(line);
  const auto& object = value.as_object();
  EXPECT_EQ(object.at("level").as_string(), "warn");
  EXPECT_EQ(object.at("message").as_string(), "endpoint 10.0.0.1:6443 is down");
  EXPECT_TRUE(std::regex_match(std::string(object.at("time").as_string()),
                               std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)")));
  EXPECT_EQ(object.at("fields").as_object().at("logger").as_string(), "poolgate");
}

TEST(JsonLogFormatTest, QuotesControlCharactersAndBadUtf8StayValidJson) {
  const std::string nasty = "say \"hi\"\\ \n\t\x01 caf\xC3\xA9 \xFF\xFE end \xE2\x82";
  const std::string line = format(nasty, spdlog::level::err);
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "a newline in the message split the line";
  boost::system::error_code ec;
  const auto value = boost::json::parse(line, ec);
  ASSERT_FALSE(ec) << ec.message() << ": " << line;
  const std::string message(value.as_object().at("message").as_string());
  EXPECT_EQ(message, "say \"hi\"\\ \n\t\x01 caf\xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD end \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(value.as_object().at("level").as_string(), "error");
}

}  // namespace
}  // namespace poolgate::server

// Covers the endpoints file: parse_endpoints_json, load_endpoints_file and render_endpoints_json.
#include "poolgate/config/endpoints_file.hpp"
#include "poolgate/config/error.hpp"

#include "config_test_helpers.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace poolgate::config {
namespace {

using namespace std::string_literals;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kOrigin = "/etc/kubernetes/k8s-apiserver-proxy.json";

std::vector<HostPort> parse(std::string_view content) { return parse_endpoints_json(content, kOrigin); }

std::string parse_error(std::string_view content) {
  return unit::config_error_message([&] { parse(content); });
}

TEST(ParseEndpointsJson, AcceptsEveryEndpointForm) {
  EXPECT_THAT(parse(R"({"endpoints": ["10.0.0.1:6443", "https://10.0.0.2:6443/", "[fd00::2]:6443", "api.example:443"]})"),
              ElementsAre(HostPort{"10.0.0.1", 6443}, HostPort{"10.0.0.2", 6443}, HostPort{"fd00::2", 6443},
                          HostPort{"api.example", 443}));
}

TEST(ParseEndpointsJson, SortsByCanonicalFormAsText) {
  // The order of HostPort::to_string(): "10.0.0.10:..." before "10.0.0.1:..." ('0' < ':'), "[..." before letters.
  EXPECT_THAT(parse(R"({"endpoints": ["b.example:1", "[fd00::1]:6443", "10.0.0.1:6443", "10.0.0.2:6443",
                                       "10.0.0.10:6443", "a.example:1"]})"),
              ElementsAre(HostPort{"10.0.0.10", 6443}, HostPort{"10.0.0.1", 6443}, HostPort{"10.0.0.2", 6443},
                          HostPort{"fd00::1", 6443}, HostPort{"a.example", 1}, HostPort{"b.example", 1}));
}

TEST(ParseEndpointsJson, RemovesDuplicatesIncludingUrlSpellings) {
  EXPECT_THAT(parse(R"({"endpoints": ["10.0.0.2:6443", "10.0.0.1:6443", "https://10.0.0.1:6443",
                                       "10.0.0.2:6443", "https://10.0.0.1:6443/path"]})"),
              ElementsAre(HostPort{"10.0.0.1", 6443}, HostPort{"10.0.0.2", 6443}));
}

TEST(ParseEndpointsJson, KeepsSameHostOnDifferentPorts) {
  EXPECT_THAT(parse(R"({"endpoints": ["10.0.0.1:6444", "10.0.0.1:6443"]})"),
              ElementsAre(HostPort{"10.0.0.1", 6443}, HostPort{"10.0.0.1", 6444}));
}

TEST(ParseEndpointsJson, IgnoresOtherFields) {
  EXPECT_THAT(parse(R"({"comment": "written by discovery", "endpoints": ["10.0.0.1:6443"]})"),
              ElementsAre(HostPort{"10.0.0.1", 6443}));
}

struct BadFile {
  std::string name;
  std::string content;
  std::vector<std::string> message_mentions;  // besides the origin, which every message must start with
};

void PrintTo(const BadFile& c, std::ostream* os) { *os << c.name; }

class ParseEndpointsJsonRejects : public ::testing::TestWithParam<BadFile> {};

TEST_P(ParseEndpointsJsonRejects, WithMessageNamingFileAndValue) {
  const std::string message = parse_error(GetParam().content);
  EXPECT_THAT(message, StartsWith(std::string(kOrigin) + ": "));
  for (const std::string& mention : GetParam().message_mentions) EXPECT_THAT(message, HasSubstr(mention));
}

INSTANTIATE_TEST_SUITE_P(
    EndpointsFile, ParseEndpointsJsonRejects,
    ::testing::Values(
        BadFile{"BadJson", R"({"endpoints": ["10.0.0.1:6443",]})", {"not valid JSON at line 1, column 32: syntax error"}},
        BadFile{"BadJsonOnLineFour", "{\n  \"endpoints\": [\n    \"10.0.0.1:6443\",\n  ]\n}\n",
                {"not valid JSON at line 4, column 3: syntax error"}},
        BadFile{"EmptyContent", "", {"not valid JSON at line 1, column 1: incomplete JSON"}},
        BadFile{"TrailingGarbage", R"({"endpoints": ["10.0.0.1:6443"]} trailing)", {"not valid JSON"}},
        BadFile{"TwoDocuments", R"({"endpoints": ["10.0.0.1:6443"]}{})", {"not valid JSON"}},
        BadFile{"NotAnObject", R"(["10.0.0.1:6443"])", {"expected a JSON object"}},
        BadFile{"MissingEndpoints", R"({"endpoint": ["10.0.0.1:6443"]})", {"missing field \"endpoints\""}},
        BadFile{"EndpointsNotAList", R"({"endpoints": "10.0.0.1:6443"})", {"\"endpoints\"", "\"10.0.0.1:6443\""}},
        BadFile{"EmptyList", R"({"endpoints": []})", {"empty list"}},
        BadFile{"NonStringItem", R"({"endpoints": ["10.0.0.1:6443", 6443]})", {"endpoints[1]", "6443", "string"}},
        BadFile{"NullItem", R"({"endpoints": [null]})", {"endpoints[0]", "null"}},
        BadFile{"EmptyString", R"({"endpoints": ["10.0.0.1:6443", ""]})", {"endpoints[1]", "empty"}},
        BadFile{"MissingPort", R"({"endpoints": ["10.0.0.1"]})", {"endpoints[0]", "\"10.0.0.1\"", "missing port"}},
        BadFile{"PortOutOfRange",
                R"({"endpoints": ["10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:70000"]})",
                {"endpoints[2]", "\"10.0.0.3:70000\"", "out of range"}},
        BadFile{"PortZero", R"({"endpoints": ["10.0.0.1:0"]})", {"endpoints[0]", "\"10.0.0.1:0\""}},
        BadFile{"UnbalancedBrackets", R"({"endpoints": ["[fd00::2:6443"]})",
                {"endpoints[0]", "\"[fd00::2:6443\"", "unbalanced brackets"}},
        BadFile{"UrlPortWithATypo", R"({"endpoints": ["https://10.0.0.2:64o3/"]})",
                {"endpoints[0]", "\"https://10.0.0.2:64o3/\""}},
        BadFile{"UnbracketedIpv6", R"({"endpoints": ["fd00::2:6443"]})", {"endpoints[0]", "\"fd00::2:6443\""}}),
    [](const ::testing::TestParamInfo<BadFile>& info) { return info.param.name; });

TEST(ParseEndpointsJson, ReportsTheFirstBadItemByItsPositionInTheFile) {
  // Sorting happens after validation, so the index is the one the operator sees in the file.
  EXPECT_THAT(parse_error(R"({"endpoints": ["10.0.0.9:6443", "10.0.0.1:99999", "bad"]})"),
              AllOf(HasSubstr("endpoints[1]"), HasSubstr("10.0.0.1:99999")));
}

TEST(RenderEndpointsJson, WritesTheFileFormat) {
  EXPECT_EQ(render_endpoints_json({{"10.0.0.1", 6443}, {"fd00::2", 6443}}),
            "{\"endpoints\":[\"10.0.0.1:6443\",\"[fd00::2]:6443\"]}\n");
}

TEST(RenderEndpointsJson, RoundTripsThroughParse) {
  const std::vector<HostPort> endpoints{{"10.0.0.1", 6443}, {"10.0.0.2", 443}, {"fd00::2", 6443},
                                        {"api.example", 6443}};  // already in the parser's order
  EXPECT_EQ(parse(render_endpoints_json(endpoints)), endpoints);
}

TEST(RenderEndpointsJson, ParsedFileRendersBackToTheSameList) {
  const auto parsed = parse(R"({"endpoints": ["https://10.0.0.2:6443/", "[fd00::2]:6443", "10.0.0.1:6443"]})");
  EXPECT_EQ(parse(render_endpoints_json(parsed)), parsed);
}

// A file in a fresh directory that is removed again when the test ends.
class EndpointsFileOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("poolgate-unit-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(directory_);
    path_ = (directory_ / "endpoints.json").string();
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  void write(const std::string& content) const { std::ofstream(path_, std::ios::binary) << content; }

  std::filesystem::path directory_;
  std::string path_;
};

TEST_F(EndpointsFileOnDisk, LoadsAndParses) {
  write(R"({"endpoints": ["10.0.0.2:6443", "10.0.0.1:6443"]})");
  EXPECT_THAT(load_endpoints_file(path_), ElementsAre(HostPort{"10.0.0.1", 6443}, HostPort{"10.0.0.2", 6443}));
}

TEST_F(EndpointsFileOnDisk, ErrorsNameThePath) {
  write(R"({"endpoints": ["10.0.0.1"]})");
  EXPECT_THAT(unit::config_error_message([&] { load_endpoints_file(path_); }), StartsWith(path_ + ": "));
}

TEST_F(EndpointsFileOnDisk, MissingFileIsAConfigErrorNamingThePath) {
  EXPECT_THAT(unit::config_error_message([&] { load_endpoints_file(path_); }), HasSubstr(path_));
}

TEST_F(EndpointsFileOnDisk, ReadWholeFileReturnsTheBytes) {
  const std::string content = "{\"endpoints\": [\"10.0.0.1:6443\"]}\n\0binary"s;
  write(content);
  EXPECT_EQ(read_whole_file(path_), content);
}

}  // namespace
}  // namespace poolgate::config

// Covers config::parse_duration and config::format_duration: Go duration syntax, rejections, round trips.
#include "poolgate/config/duration.hpp"
#include "poolgate/config/error.hpp"

#include "config_test_helpers.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace poolgate::config {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

struct DurationCase {
  std::string text;
  Duration expected;
};

void PrintTo(const DurationCase& c, std::ostream* os) { *os << '"' << c.text << '"'; }

class ParseDurationAccepts : public ::testing::TestWithParam<DurationCase> {};

TEST_P(ParseDurationAccepts, GoSyntax) {
  EXPECT_EQ(parse_duration(GetParam().text), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Durations, ParseDurationAccepts,
    ::testing::Values(DurationCase{"500ms", 500ms}, DurationCase{"15s", 15s}, DurationCase{"1m", 1min},
                      DurationCase{"1h", 1h}, DurationCase{"1h30m", 90min}, DurationCase{"1.5s", 1500ms},
                      DurationCase{"0", 0ns}, DurationCase{"0s", 0ns}, DurationCase{"2h45m30.5s", 2h + 45min + 30500ms},
                      DurationCase{"1.5h", 90min}, DurationCase{".5s", 500ms}, DurationCase{"+5s", 5s},
                      DurationCase{"250us", 250us}, DurationCase{"250\xC2\xB5s", 250us},  // micro sign
                      DurationCase{"250\xCE\xBCs", 250us},                                  // Greek mu
                      DurationCase{"42ns", 42ns}, DurationCase{"1m0.001s", 60001ms},
                      DurationCase{"0.3s", 300ms}, DurationCase{"1.000000001s", 1'000'000'001ns},
                      DurationCase{"1h0m0s", 1h}, DurationCase{"9223372036854775807ns", Duration::max()},
                      DurationCase{"2562047h47m16.854775807s", Duration::max()}));

class ParseDurationRejects : public ::testing::TestWithParam<std::string> {};

TEST_P(ParseDurationRejects, WithMessageNamingTheText) {
  const std::string& text = GetParam();
  EXPECT_THAT(unit::config_error_message([&] { parse_duration(text); }), HasSubstr("\"" + text + "\""));
}

INSTANTIATE_TEST_SUITE_P(Durations, ParseDurationRejects,
                         ::testing::Values("", "-1s", "-0", "10", "1x", "s", "1..2s", "1.2.3s", ".s", "+",
                                           "1s ", " 1s", "1 s", "1sec", "1S", "ms", "9223372036854775808ns",
                                           "2562048h", "2562047h47m16.854775808s", "99999999999999999999h"));

TEST(ParseDuration, ErrorSaysWhatIsWrong) {
  EXPECT_THAT(unit::config_error_message([] { parse_duration("-1s"); }), HasSubstr("negative"));
  EXPECT_THAT(unit::config_error_message([] { parse_duration("10"); }), HasSubstr("missing unit"));
  EXPECT_THAT(unit::config_error_message([] { parse_duration("1x"); }), HasSubstr("unknown unit"));
  EXPECT_THAT(unit::config_error_message([] { parse_duration("9999999h"); }), HasSubstr("too large"));
}

struct FormatCase {
  Duration value;
  std::string expected;
};

void PrintTo(const FormatCase& c, std::ostream* os) { *os << c.value.count() << "ns"; }

class FormatDuration : public ::testing::TestWithParam<FormatCase> {};

TEST_P(FormatDuration, RendersLikeGo) { EXPECT_EQ(format_duration(GetParam().value), GetParam().expected); }

TEST_P(FormatDuration, RoundTripsThroughParse) {
  EXPECT_EQ(parse_duration(format_duration(GetParam().value)), GetParam().value);
}

INSTANTIATE_TEST_SUITE_P(
    Durations, FormatDuration,
    ::testing::Values(FormatCase{0ns, "0s"}, FormatCase{1ns, "1ns"}, FormatCase{1500ns, "1500ns"},
                      FormatCase{30us, "30\xC2\xB5s"},
                      FormatCase{500ms, "500ms"}, FormatCase{999ms, "999ms"}, FormatCase{1s, "1s"},
                      FormatCase{15s, "15s"}, FormatCase{1500ms, "1.5s"}, FormatCase{1250ms, "1.25s"},
                      FormatCase{1001ms, "1.001s"}, FormatCase{1min, "1m0s"}, FormatCase{61s, "1m1s"},
                      FormatCase{90min, "1h30m0s"}, FormatCase{1h, "1h0m0s"},
                      FormatCase{2h + 45min + 30500ms, "2h45m30.5s"}, FormatCase{60001ms, "1m0.001s"},
                      FormatCase{100h, "100h0m0s"}));

}  // namespace
}  // namespace poolgate::config

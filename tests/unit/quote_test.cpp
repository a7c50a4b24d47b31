// Covers config::printable and config::quoted: untrusted text in messages is bounded and printable.
#include "poolgate/config/address.hpp"
#include "poolgate/config/quote.hpp"

#include "config_test_helpers.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace poolgate::config {
namespace {

using ::testing::Not;
using ::testing::HasSubstr;

TEST(Printable, LeavesPrintableAsciiAlone) { EXPECT_EQ(printable("10.0.0.1:6443 ok"), "10.0.0.1:6443 ok"); }

TEST(Printable, EscapesControlCharactersBackslashesAndNonAscii) {
  EXPECT_EQ(printable(std::string("a\nb\r\x1b[31m\0z", 11)), "a\\x0Ab\\x0D\\x1B[31m\\x00z");
  EXPECT_EQ(printable("a\\b"), "a\\\\b");
  EXPECT_EQ(printable("\x7f\xc2\xb5"), "\\x7F\\xC2\\xB5");
}

TEST(Printable, CutsLongTextAndMarksTheCut) {
  EXPECT_EQ(printable(std::string(500, 'a'), 10), std::string(10, 'a') + "...");
  EXPECT_EQ(printable(std::string(10, 'a'), 10), std::string(10, 'a'));
}

TEST(Quoted, QuotesAndEscapesQuotes) {
  EXPECT_EQ(quoted("api"), "\"api\"");
  EXPECT_EQ(quoted("a\"b"), "\"a\\\"b\"");
}

TEST(Quoted, AnInvalidAddressMessageStaysShortAndOnOneLine) {
  std::string long_line(100000, 'x');
  long_line.push_back('\n');
  const std::string message = unit::config_error_message([&] { parse_endpoint(long_line); });
  EXPECT_LT(message.size(), 300u);
  EXPECT_THAT(message, Not(HasSubstr("\n")));
  EXPECT_THAT(message, HasSubstr("xxx...\": "));
}

}  // namespace
}  // namespace poolgate::config

// Covers config::parse_endpoint, config::parse_listen_address and HostPort::to_string.
#include "poolgate/config/address.hpp"
#include "poolgate/config/error.hpp"

#include "config_test_helpers.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace poolgate::config {
namespace {

using ::testing::HasSubstr;

struct AddressCase {
  std::string text;
  HostPort expected;
};

void PrintTo(const AddressCase& c, std::ostream* os) { *os << '"' << c.text << '"'; }

// ---- endpoints ------------------------------------------------------------------------------------------

class ParseEndpointAccepts : public ::testing::TestWithParam<AddressCase> {};

TEST_P(ParseEndpointAccepts, HostAndPort) { EXPECT_EQ(parse_endpoint(GetParam().text), GetParam().expected); }

INSTANTIATE_TEST_SUITE_P(
    Endpoints, ParseEndpointAccepts,
    ::testing::Values(AddressCase{"10.0.0.1:6443", {"10.0.0.1", 6443}},
                      AddressCase{"https://10.0.0.2:6443", {"10.0.0.2", 6443}},
                      AddressCase{"https://10.0.0.2:6443/", {"10.0.0.2", 6443}},
                      AddressCase{"https://10.0.0.2:6443/path", {"10.0.0.2", 6443}},
                      AddressCase{"[fd00::2]:6443", {"fd00::2", 6443}},
                      AddressCase{"https://[fd00::2]:6443/", {"fd00::2", 6443}},
                      AddressCase{"[::1]:80", {"::1", 80}},
                      AddressCase{"api.example.com:443", {"api.example.com", 443}},
                      AddressCase{"localhost:1", {"localhost", 1}},
                      AddressCase{"10.0.0.1:65535", {"10.0.0.1", 65535}}));

class ParseEndpointRejects : public ::testing::TestWithParam<std::string> {};

TEST_P(ParseEndpointRejects, WithMessageNamingTheText) {
  const std::string& text = GetParam();
  EXPECT_THAT(unit::config_error_message([&] { parse_endpoint(text); }), HasSubstr("\"" + text + "\""));
}

INSTANTIATE_TEST_SUITE_P(Endpoints, ParseEndpointRejects,
                         ::testing::Values("",                        // empty
                                           "10.0.0.1",                // missing port
                                           "10.0.0.1:",               // empty port
                                           "[fd00::2]",               // missing port after brackets
                                           "https://10.0.0.2/path",   // URL without port
                                           "10.0.0.1:0",              // port 0 is only for listening
                                           "10.0.0.1:70000",          // port out of range
                                           "10.0.0.1:65536",          // port out of range
                                           "10.0.0.1:abc",            // port not a number
                                           "10.0.0.1:-1",             // port not a number
                                           "10.0.0.1:64o3",           // port with a typo
                                           "[::1:80",                 // unbalanced brackets
                                           "::1]:80",                 // unbalanced brackets
                                           "]::1[:80",                // brackets the wrong way round
                                           "fd00::2:6443",            // unbracketed IPv6
                                           "::1",                     // unbracketed IPv6, no port
                                           "user@10.0.0.1:6443",      // user info
                                           "https://user:pw@10.0.0.2:6443/",  // user info in a URL
                                           ":6443",                   // missing host (fine for listen only)
                                           "https://",                // URL without host
                                           "10.0.0.1:6443/path"));    // path without a scheme

// A URL's port must be all digits up to the path, exactly as in the plain form. Boost.URL 1.81's parse_uri stops
// the port at the first non-digit and takes the rest for the path, so without a check of its own the parser turns
// a typo into another port: "64o3" (meant: 6403) would dial port 64, and "6443:1" port 6443.
TEST(ParseEndpoint, RejectsUrlWhosePortHasTrailingCharacters) {
  for (const std::string text : {"https://10.0.0.2:64o3/", "https://10.0.0.2:6443x", "https://10.0.0.2:6443:1/",
                                 "https://api.example:6443:1/", "https://[fd00::2]:6443x/"}) {
    SCOPED_TRACE(text);
    std::string accepted_as = "nothing";
    EXPECT_THAT(unit::config_error_message([&] { accepted_as = parse_endpoint(text).to_string(); }),
                HasSubstr("\"" + text + "\""))
        << "accepted as " << accepted_as;
  }
}

struct RejectionReason {
  std::string text;
  std::string reason;
};

void PrintTo(const RejectionReason& c, std::ostream* os) { *os << '"' << c.text << '"'; }

class ParseEndpointExplains : public ::testing::TestWithParam<RejectionReason> {};

TEST_P(ParseEndpointExplains, WhatIsWrong) {
  EXPECT_THAT(unit::config_error_message([&] { parse_endpoint(GetParam().text); }), HasSubstr(GetParam().reason));
}

INSTANTIATE_TEST_SUITE_P(Endpoints, ParseEndpointExplains,
                         ::testing::Values(RejectionReason{"", "empty"},
                                           RejectionReason{"10.0.0.1", "missing port"},
                                           RejectionReason{"10.0.0.1:70000", "out of range"},
                                           RejectionReason{"10.0.0.1:0", "out of range"},
                                           RejectionReason{"[::1:80", "unbalanced brackets"},
                                           RejectionReason{"::1]:80", "unbalanced brackets"},
                                           RejectionReason{"fd00::2:6443", "brackets"},
                                           RejectionReason{"user@10.0.0.1:6443", "user information"}));

// ---- listen addresses -----------------------------------------------------------------------------------

class ParseListenAddressAccepts : public ::testing::TestWithParam<AddressCase> {};

TEST_P(ParseListenAddressAccepts, HostAndPort) {
  EXPECT_EQ(parse_listen_address(GetParam().text), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(ListenAddresses, ParseListenAddressAccepts,
                         ::testing::Values(AddressCase{":6443", {"", 6443}},
                                           AddressCase{"127.0.0.1:0", {"127.0.0.1", 0}},
                                           AddressCase{":0", {"", 0}},
                                           AddressCase{"0.0.0.0:6443", {"0.0.0.0", 6443}},
                                           AddressCase{"[::]:6443", {"::", 6443}},
                                           AddressCase{"[::1]:0", {"::1", 0}},
                                           AddressCase{"localhost:8080", {"localhost", 8080}}));

class ParseListenAddressRejects : public ::testing::TestWithParam<std::string> {};

TEST_P(ParseListenAddressRejects, WithMessageNamingTheText) {
  const std::string& text = GetParam();
  EXPECT_THAT(unit::config_error_message([&] { parse_listen_address(text); }), HasSubstr("\"" + text + "\""));
}

INSTANTIATE_TEST_SUITE_P(ListenAddresses, ParseListenAddressRejects,
                         ::testing::Values("", ":", "6443", "127.0.0.1", ":70000", ":abc", "[::1:6443",
                                           "::1]:6443", "::1:6443", "user@127.0.0.1:6443"));

// ---- HostPort -------------------------------------------------------------------------------------------

TEST(HostPort, ToStringBracketsIpv6Only) {
  EXPECT_EQ((HostPort{"10.0.0.1", 6443}).to_string(), "10.0.0.1:6443");
  EXPECT_EQ((HostPort{"fd00::2", 6443}).to_string(), "[fd00::2]:6443");
  EXPECT_EQ((HostPort{"::1", 80}).to_string(), "[::1]:80");
  EXPECT_EQ((HostPort{"api.example.com", 443}).to_string(), "api.example.com:443");
  EXPECT_EQ((HostPort{"", 6443}).to_string(), ":6443");
}

TEST(HostPort, KnowsIpv6Literals) {
  EXPECT_TRUE((HostPort{"fd00::2", 1}).host_is_ipv6_literal());
  EXPECT_FALSE((HostPort{"10.0.0.1", 1}).host_is_ipv6_literal());
  EXPECT_FALSE((HostPort{"api.example.com", 1}).host_is_ipv6_literal());
}

TEST(HostPort, ToStringRoundTripsThroughParseEndpoint) {
  for (const char* text : {"10.0.0.1:6443", "[fd00::2]:6443", "api.example.com:443", "[::1]:1"}) {
    EXPECT_EQ(parse_endpoint(text).to_string(), text);
  }
  EXPECT_EQ(parse_endpoint("https://[fd00::2]:6443/path").to_string(), "[fd00::2]:6443");
}

TEST(HostPort, ListenToStringRoundTripsThroughParseListenAddress) {
  for (const char* text : {":6443", "127.0.0.1:0", "[::]:6443"}) {
    EXPECT_EQ(parse_listen_address(text).to_string(), text);
  }
}

}  // namespace
}  // namespace poolgate::config

// Covers the API object parsers discovery applies to the API server's answers (EndpointSliceList, Endpoints),
// the request targets, and malformed answers: clear messages naming the field, never a crash.
#include "poolgate/discovery/api_objects.hpp"
#include "poolgate/discovery/error.hpp"

#include "config_test_helpers.hpp"
#include "support/kube_objects.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace poolgate::discovery {
namespace {

using config::HostPort;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

std::vector<std::string> texts(const std::vector<HostPort>& endpoints) {
  std::vector<std::string> out;
  for (const auto& endpoint : endpoints) out.push_back(endpoint.to_string());
  return out;
}

template <class Call>
std::string discovery_error(Call&& call) {
  try {
    call();
  } catch (const DiscoveryError& error) {
    return error.what();
  }
  return "<no DiscoveryError thrown>";
}

TEST(DiscoveryTargets, AskForTheKubernetesServiceWithAnEncodedLabelSelector) {
  EXPECT_EQ(endpoint_slices_target(),
            "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
            "?labelSelector=kubernetes.io%2Fservice-name%3Dkubernetes");
  EXPECT_EQ(endpoints_target(), "/api/v1/namespaces/default/endpoints/kubernetes");
}

TEST(ParseEndpointSliceList, TakesEveryAddressWithTheHttpsPortSortedAndDeduplicated) {
  const std::string json = test::endpoint_slice_list_json({
      {"IPv4", 6443, {{{"10.0.0.3"}, true}, {{"10.0.0.1", "10.0.0.2"}, std::nullopt}}},
      {"IPv4", 7443, {{{"10.0.0.1"}, true}}},
      {"IPv4", 6443, {{{"10.0.0.2"}, true}}},  // a duplicate across slices
  });
  EXPECT_THAT(texts(parse_endpoint_slice_list(json)),
              ElementsAre("10.0.0.1:6443", "10.0.0.1:7443", "10.0.0.2:6443", "10.0.0.3:6443"));
}

TEST(ParseEndpointSliceList, LeavesOutEndpointsWhoseReadyConditionIsFalse) {
  const std::string json = R"({"kind":"EndpointSliceList","items":[{"addressType":"IPv4",
    "ports":[{"name":"https","port":6443}],
    "endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":true}},
                 {"addresses":["10.0.0.2"],"conditions":{"ready":false,"serving":true}},
                 {"addresses":["10.0.0.3"],"conditions":{"ready":null}},
                 {"addresses":["10.0.0.4"],"conditions":{}},
                 {"addresses":["10.0.0.5"]}]}]})";
  EXPECT_THAT(texts(parse_endpoint_slice_list(json)),
              ElementsAre("10.0.0.1:6443", "10.0.0.3:6443", "10.0.0.4:6443", "10.0.0.5:6443"));
}

TEST(ParseEndpointSliceList, UsesThePortNamedHttpsElse6443) {
  const std::string json = R"({"items":[
    {"addressType":"IPv4","ports":[{"name":"metrics","port":9000},{"name":"https","port":16443}],
     "endpoints":[{"addresses":["10.0.0.1"]}]},
    {"addressType":"IPv4","ports":[{"name":"other","port":9000}],"endpoints":[{"addresses":["10.0.0.2"]}]},
    {"addressType":"IPv4","ports":null,"endpoints":[{"addresses":["10.0.0.3"]}]},
    {"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.4"]}]}]})";
  EXPECT_THAT(texts(parse_endpoint_slice_list(json)),
              ElementsAre("10.0.0.1:16443", "10.0.0.2:6443", "10.0.0.3:6443", "10.0.0.4:6443"));
}

TEST(ParseEndpointSliceList, FormatsIpv6InBracketsNormalisedAndSkipsFqdnSlices) {
  const std::string json = test::endpoint_slice_list_json({
      {"IPv6", 6443, {{{"fd00:0:0::2", "FD00::1"}, true}}},
      {"IPv4", 6443, {{{"10.0.0.1"}, true}}},
      {"FQDN", 6443, {{{"api.example.com"}, true}}},
  });
  const auto endpoints = parse_endpoint_slice_list(json);
  EXPECT_THAT(texts(endpoints), ElementsAre("10.0.0.1:6443", "[fd00::1]:6443", "[fd00::2]:6443"));
  EXPECT_EQ(endpoints[1], (HostPort{"fd00::1", 6443}));
}

TEST(ParseEndpointSliceList, AnEmptyOrNullListIsNoEndpoints) {
  EXPECT_THAT(parse_endpoint_slice_list(R"({"kind":"EndpointSliceList","items":[]})"), IsEmpty());
  EXPECT_THAT(parse_endpoint_slice_list(R"({"items":null})"), IsEmpty());
  EXPECT_THAT(parse_endpoint_slice_list(R"({"items":[{"addressType":"IPv4","endpoints":null}]})"), IsEmpty());
  EXPECT_THAT(parse_endpoint_slice_list(test::endpoint_slice_list_json({{"IPv4", 6443, {{{"10.0.0.1"}, false}}}})),
              IsEmpty());
}

struct Malformed {
  const char* name;
  std::string json;
  std::string message;
};
void PrintTo(const Malformed& value, std::ostream* out) { *out << value.name; }

class MalformedEndpointSliceList : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedEndpointSliceList, IsRejectedWithAMessageNamingTheField) {
  EXPECT_EQ(discovery_error([&] { parse_endpoint_slice_list(GetParam().json); }), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    , MalformedEndpointSliceList,
    ::testing::Values(
        Malformed{"Empty", "", "EndpointSliceList: not valid JSON: incomplete JSON"},
        Malformed{"Html", "<html>nope</html>", "EndpointSliceList: not valid JSON: syntax error"},
        Malformed{"Truncated", R"({"items":[{"addressType":"IPv4")", "EndpointSliceList: not valid JSON: incomplete JSON"},
        Malformed{"AnArray", "[1,2]", "EndpointSliceList: expected a JSON object, got [1,2]"},
        Malformed{"WrongKind", R"({"kind":"Status","status":"Failure"})",
                  "EndpointSliceList: kind: expected \"EndpointSliceList\", got \"Status\""},
        Malformed{"NoItems", R"({"kind":"EndpointSliceList"})", "EndpointSliceList: items: missing"},
        Malformed{"ItemsNotAList", R"({"items":{"a":1}})", "EndpointSliceList: items: expected a list, got {\"a\":1}"},
        Malformed{"ItemNotAnObject", R"({"items":[3]})", "EndpointSliceList: items[0]: expected an object, got 3"},
        Malformed{"AddressTypeNotAString", R"({"items":[{"addressType":4}]})",
                  "EndpointSliceList: items[0].addressType: expected a string, got 4"},
        Malformed{"EndpointsNotAList", R"({"items":[{"endpoints":"10.0.0.1"}]})",
                  "EndpointSliceList: items[0].endpoints: expected a list, got \"10.0.0.1\""},
        Malformed{"EndpointWithoutAddresses", R"({"items":[{"endpoints":[{"conditions":{"ready":true}}]}]})",
                  "EndpointSliceList: items[0].endpoints[0].addresses: missing or empty"},
        Malformed{"AddressNotAString", R"({"items":[{"endpoints":[{"addresses":["10.0.0.1",7]}]}]})",
                  "EndpointSliceList: items[0].endpoints[0].addresses[1]: expected an IP address string, got 7"},
        Malformed{"AddressNotAnIp", R"({"items":[{"endpoints":[{"addresses":["10.0.0.300"]}]}]})",
                  "EndpointSliceList: items[0].endpoints[0].addresses[0]: \"10.0.0.300\" is not an IP address"},
        Malformed{"ReadyNotABool", R"({"items":[{"endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":"yes"}}]}]})",
                  "EndpointSliceList: items[0].endpoints[0].conditions.ready: expected true or false, got \"yes\""},
        Malformed{"ConditionsNotAnObject", R"({"items":[{"endpoints":[{"addresses":["10.0.0.1"],"conditions":[]}]}]})",
                  "EndpointSliceList: items[0].endpoints[0].conditions: expected an object, got []"},
        Malformed{"PortsNotAList", R"({"items":[{"ports":1,"endpoints":[]}]})",
                  "EndpointSliceList: items[0].ports: expected a list, got 1"},
        Malformed{"HttpsPortMissing", R"({"items":[{"ports":[{"name":"https"}]}]})",
                  "EndpointSliceList: items[0].ports[0].port: missing"},
        Malformed{"HttpsPortAString", R"({"items":[{"ports":[{"name":"https","port":"6443"}]}]})",
                  "EndpointSliceList: items[0].ports[0].port: expected a whole number, got \"6443\""},
        Malformed{"HttpsPortOutOfRange", R"({"items":[{"ports":[{"name":"https","port":70000}]}]})",
                  "EndpointSliceList: items[0].ports[0].port: 70000 is out of range (1-65535)"},
        Malformed{"HttpsPortZero", R"({"items":[{"ports":[{"name":"https","port":0}]}]})",
                  "EndpointSliceList: items[0].ports[0].port: 0 is out of range (1-65535)"},
        Malformed{"PortNameNotAString", R"({"items":[{"ports":[{"name":443}]}]})",
                  "EndpointSliceList: items[0].ports[0].name: expected a string, got 443"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ParseEndpoints, TakesEverySubsetAddressWithItsHttpsPortAndLeavesOutNotReadyAddresses) {
  const std::string json = test::endpoints_object_json({
      {{"10.0.0.2", "10.0.0.1"}, {"10.0.0.9"}, 6443},
      {{"fd00::1"}, {}, 7443},
  });
  EXPECT_THAT(texts(parse_endpoints(json)), ElementsAre("10.0.0.1:6443", "10.0.0.2:6443", "[fd00::1]:7443"));
}

TEST(ParseEndpoints, NoSubsetsIsNoEndpoints) {
  EXPECT_THAT(parse_endpoints(R"({"kind":"Endpoints","metadata":{"name":"kubernetes"}})"), IsEmpty());
  EXPECT_THAT(parse_endpoints(R"({"kind":"Endpoints","subsets":[]})"), IsEmpty());
  EXPECT_THAT(parse_endpoints(R"({"subsets":[{"notReadyAddresses":[{"ip":"10.0.0.1"}]}]})"), IsEmpty());
}

class MalformedEndpoints : public ::testing::TestWithParam<Malformed> {};

TEST_P(MalformedEndpoints, IsRejectedWithAMessageNamingTheField) {
  EXPECT_EQ(discovery_error([&] { parse_endpoints(GetParam().json); }), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    , MalformedEndpoints,
    ::testing::Values(
        Malformed{"NotJson", "{", "Endpoints: not valid JSON: incomplete JSON"},
        Malformed{"AString", "\"x\"", "Endpoints: expected a JSON object, got \"x\""},
        Malformed{"WrongKind", R"({"kind":"EndpointSliceList"})",
                  "Endpoints: kind: expected \"Endpoints\", got \"EndpointSliceList\""},
        Malformed{"SubsetsNotAList", R"({"subsets":"a"})", "Endpoints: subsets: expected a list, got \"a\""},
        Malformed{"AddressNotAnObject", R"({"subsets":[{"addresses":["10.0.0.1"]}]})",
                  "Endpoints: subsets[0].addresses[0]: expected an object, got \"10.0.0.1\""},
        Malformed{"AddressWithoutIp", R"({"subsets":[{"addresses":[{"hostname":"a"}]}]})",
                  "Endpoints: subsets[0].addresses[0].ip: missing"},
        Malformed{"IpNotAnIp", R"({"subsets":[{"addresses":[{"ip":"api"}]}]})",
                  "Endpoints: subsets[0].addresses[0].ip: \"api\" is not an IP address"},
        Malformed{"HttpsPortNegative", R"({"subsets":[{"addresses":[],"ports":[{"name":"https","port":-1}]}]})",
                  "Endpoints: subsets[0].ports[0].port: -1 is out of range (1-65535)"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(StatusMessage, TakesTheMessageOfAStatusObjectElseTheStartOfTheBody) {
  EXPECT_EQ(status_message(R"({"kind":"Status","message":"endpointslices is forbidden: User \"x\" cannot list"})"),
            "endpointslices is forbidden: User \"x\" cannot list");
  EXPECT_EQ(status_message("404 page not found\n"), "404 page not found");
  EXPECT_EQ(status_message(""), "");
  EXPECT_EQ(status_message(std::string(500, 'a')).size(), 120u);
}

TEST(StatusMessage, AHostileMessageCannotFloodOrForgeLogLines) {
  const std::string forged = "denied\\n2024-01-01 [info] discovery: API servers are now 6.6.6.6:6443" +
                             std::string(100000, 'x');
  const std::string message = status_message(R"({"kind":"Status","message":")" + forged + R"("})");
  EXPECT_LE(message.size(), 303u);
  EXPECT_THAT(message, StartsWith("denied\\x0A2024-01-01"));
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace poolgate::discovery

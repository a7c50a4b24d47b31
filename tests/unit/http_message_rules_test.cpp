#include "poolgate/http/message_rules.hpp"

#include <gtest/gtest.h>

namespace poolgate::http {
namespace {

namespace bhttp = boost::beast::http;

TEST(StripHopByHop, RemovesTheFixedHopFieldsAndEveryFieldConnectionNames) {
  Fields fields;
  fields.insert(bhttp::field::connection, "keep-alive, X-Private");
  fields.insert(bhttp::field::connection, "x-other");
  fields.set("X-Private", "1");
  fields.set("X-Other", "2");
  fields.set(bhttp::field::keep_alive, "timeout=5");
  fields.set(bhttp::field::proxy_connection, "keep-alive");
  fields.set(bhttp::field::te, "trailers");
  fields.set(bhttp::field::upgrade, "websocket");
  fields.set(bhttp::field::transfer_encoding, "chunked");
  fields.set("X-End-To-End", "3");

  strip_hop_by_hop(fields, false);

  for (std::string_view gone : {"Connection", "X-Private", "X-Other", "Keep-Alive", "Proxy-Connection", "TE", "Upgrade"}) {
    EXPECT_EQ(fields.count(gone), 0u) << gone;
  }
  // Framing stays: the proxy re-frames the body with the same coding.
  EXPECT_EQ(fields[bhttp::field::transfer_encoding], "chunked");
  EXPECT_EQ(fields["X-End-To-End"], "3");
}

TEST(StripHopByHop, ErasesEveryCopyOfANamedFieldAndKeepsTheRestInArrivalOrder) {
  Fields fields;
  fields.insert("X-A", "1");
  fields.insert("X-Private", "p1");
  fields.insert(bhttp::field::connection, "close, x-private");
  fields.insert("X-B", "2");
  fields.insert("x-private", "p2");
  fields.insert(bhttp::field::te, "trailers");
  fields.insert("X-C", "3");
  strip_hop_by_hop(fields, false);
  std::string left;
  for (const auto& field : fields) left += std::string(field.name_string()) + "=" + std::string(field.value()) + ";";
  EXPECT_EQ(left, "X-A=1;X-B=2;X-C=3;");
}

TEST(StripHopByHop, KeepsTheFieldsThatFrameTheMessageEvenWhenConnectionNamesThem) {
  Fields fields;
  fields.set(bhttp::field::connection, "content-length, Transfer-Encoding, host, X-Private");
  fields.set(bhttp::field::content_length, "5");
  fields.set(bhttp::field::transfer_encoding, "chunked");
  fields.set(bhttp::field::host, "example");
  fields.set("X-Private", "1");
  strip_hop_by_hop(fields, false);
  // Without them the body would go out unframed and the next hop could read part of it as another request.
  EXPECT_EQ(fields[bhttp::field::content_length], "5");
  EXPECT_EQ(fields[bhttp::field::transfer_encoding], "chunked");
  EXPECT_EQ(fields[bhttp::field::host], "example");
  EXPECT_EQ(fields.count("X-Private"), 0u);
}

TEST(StripHopByHop, FindsConnectionFieldsWhereverTheyArrivedAndSurvivesATokenNamingConnection) {
  Fields fields;
  fields.insert(bhttp::field::connection, "X-First");
  fields.set(bhttp::field::host, "example");
  fields.insert(bhttp::field::connection, "connection, X-Second");
  fields.set("X-First", "1");
  fields.set("X-Second", "2");
  strip_hop_by_hop(fields, false);
  EXPECT_EQ(fields.count("X-First"), 0u);
  EXPECT_EQ(fields.count("X-Second"), 0u) << "the Connection field that arrived later was not read";
  EXPECT_EQ(fields.count(bhttp::field::connection), 0u);
  EXPECT_EQ(fields[bhttp::field::host], "example");
}

TEST(StripHopByHop, KeepsUpgradeAndAsksForItWhenTheProtocolSwitchIsForwarded) {
  Fields fields;
  fields.set(bhttp::field::connection, "Upgrade, X-Private");
  fields.set(bhttp::field::upgrade, "SPDY/3.1");
  fields.set("X-Private", "1");
  strip_hop_by_hop(fields, true);
  EXPECT_EQ(fields[bhttp::field::upgrade], "SPDY/3.1");
  EXPECT_EQ(fields[bhttp::field::connection], "upgrade");
  EXPECT_EQ(fields.count("X-Private"), 0u);
}

TEST(Forwarding, ViaAndXForwardedForAppendToWhatEarlierHopsWrote) {
  Fields fields;
  append_via(fields, 11);
  append_forwarded_for(fields, "10.0.0.7");
  EXPECT_EQ(fields[bhttp::field::via], "1.1 poolgate");
  EXPECT_EQ(fields["X-Forwarded-For"], "10.0.0.7");

  append_via(fields, 10);
  append_forwarded_for(fields, "::1");
  EXPECT_EQ(fields[bhttp::field::via], "1.1 poolgate, 1.0 poolgate");
  EXPECT_EQ(fields["X-Forwarded-For"], "10.0.0.7, ::1");

  Fields empty_via;  // present but empty: replaced by this hop alone
  empty_via.insert(bhttp::field::via, "");
  append_via(empty_via, 11);
  EXPECT_EQ(empty_via.count(bhttp::field::via), 1u);
  EXPECT_EQ(empty_via[bhttp::field::via], "1.1 poolgate");
}

TEST(Forwarding, EarlierHopsInSeveralFieldsAreAllKeptInOneList) {
  Fields fields;
  fields.insert("X-Forwarded-For", "192.0.2.1");
  fields.insert(bhttp::field::via, "1.1 edge");
  fields.insert("x-forwarded-for", "192.0.2.2, 192.0.2.3");
  fields.insert(bhttp::field::via, "1.0 middle");
  append_forwarded_for(fields, "10.0.0.7");
  append_via(fields, 11);
  EXPECT_EQ(fields.count("X-Forwarded-For"), 1u);
  EXPECT_EQ(fields["X-Forwarded-For"], "192.0.2.1, 192.0.2.2, 192.0.2.3, 10.0.0.7");
  EXPECT_EQ(fields.count(bhttp::field::via), 1u);
  EXPECT_EQ(fields[bhttp::field::via], "1.1 edge, 1.0 middle, 1.1 poolgate");
}

TEST(FieldWalks, CountEveryCopyAndFindTheFirstValueInArrivalOrder) {
  Fields fields;
  fields.insert(bhttp::field::host, "example");
  fields.insert(bhttp::field::transfer_encoding, "gzip");
  fields.insert("transfer-encoding", "chunked");  // by name: the parser's code is assigned all the same
  EXPECT_EQ(count_fields(fields, bhttp::field::transfer_encoding), 2u);
  EXPECT_EQ(first_value(fields, bhttp::field::transfer_encoding), "gzip");
  EXPECT_EQ(count_fields(fields, bhttp::field::expect), 0u);
  EXPECT_EQ(first_value(fields, bhttp::field::expect), "");
}

TEST(ObsoleteLineFolding, IsFoundOnlyInsideTheHeaderSection) {
  EXPECT_TRUE(has_obsolete_line_folding("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n"));
  EXPECT_TRUE(has_obsolete_line_folding("GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n"));
  EXPECT_TRUE(has_obsolete_line_folding("GET / HTTP/1.1\r\nX-A: a\r\n b"));  // header still arriving
  EXPECT_FALSE(has_obsolete_line_folding("GET / HTTP/1.1\r\nX-A: a b\r\n\r\n"));
  // A body (or the next pipelined request) may hold anything.
  EXPECT_FALSE(has_obsolete_line_folding("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n\r\n ab"));
  EXPECT_FALSE(has_obsolete_line_folding("GET / HTTP/1.1\r\n"));
  EXPECT_FALSE(has_obsolete_line_folding(""));
}

TEST(Retry, OnlyGetHeadAndOptionsAreCandidates) {
  EXPECT_TRUE(is_idempotent_retry_candidate(bhttp::verb::get));
  EXPECT_TRUE(is_idempotent_retry_candidate(bhttp::verb::head));
  EXPECT_TRUE(is_idempotent_retry_candidate(bhttp::verb::options));
  for (auto method : {bhttp::verb::post, bhttp::verb::put, bhttp::verb::patch, bhttp::verb::delete_,
                      bhttp::verb::connect}) {
    EXPECT_FALSE(is_idempotent_retry_candidate(method)) << bhttp::to_string(method);
  }
}

}  // namespace
}  // namespace poolgate::http

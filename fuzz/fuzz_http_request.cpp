// The HTTP request header path of --mode http (http/request_header, http/message_rules): any bytes, arriving in
// two pieces, are refused (malformed, too large), wait for more, or give a header that, once prepared for the
// backend and rendered as poolgate sends it, Beast parses again with the same body framing, no hop-by-hop field
// left and this hop recorded.
#include "fuzz_support.hpp"

#include "poolgate/http/request_header.hpp"

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/core/buffers_range.hpp>

#include <string>

using namespace poolgate;
namespace bhttp = boost::beast::http;

namespace {

constexpr std::string_view kClient = "192.0.2.7";

// The header as the backend would receive it, parsed back.
void check_prepared(http::RequestParser& parser, std::string_view input) {
  const bool upgrade = parser.upgrade();
  http::prepare_for_backend(parser.get(), upgrade, kClient);
  std::string sent;
  const auto rendered = http::detail::header_writer(parser.get());
  const auto buffers = rendered.get();
  for (const auto piece : boost::beast::buffers_range_ref(buffers)) {
    sent.append(static_cast<const char*>(piece.data()), piece.size());
  }
  bhttp::request_parser<bhttp::empty_body> again;
  again.header_limit(4 * http::kHeaderLimit);
  // poolgate streams bodies of any declared length; Beast's default 1 MiB limit would refuse a large Content-Length
  // at the header.
  again.body_limit(boost::none);
  again.eager(false);
  boost::beast::error_code ec;
  again.put(boost::asio::buffer(sent), ec);
  fuzz::require(!ec || ec == bhttp::error::need_more, "the prepared header does not parse again: " + ec.message(), sent);
  fuzz::require(again.is_header_done(), "the prepared header is incomplete", sent);
  // poolgate frames the body as its own parser read it: the backend must read the header the same way, or the
  // difference could carry a second request inside the body.
  fuzz::require(again.chunked() == parser.chunked(), "the backend would read the body's coding differently", sent);
  fuzz::require(again.content_length() == parser.content_length(), "the backend would read another length", sent);
  const auto& header = again.get();
  fuzz::require(header.version() == 11, "not sent as HTTP/1.1", sent);
  for (const bhttp::field hop : {bhttp::field::keep_alive, bhttp::field::proxy_connection, bhttp::field::te}) {
    fuzz::require(header.count(hop) == 0, "a hop-by-hop field reached the backend", sent);
  }
  fuzz::require(upgrade || header.count(bhttp::field::upgrade) == 0, "Upgrade kept without a protocol switch", sent);
  const std::string_view via = header[bhttp::field::via];
  fuzz::require(via.ends_with("poolgate"), "Via does not end with this hop", sent);
  fuzz::require(header.count(bhttp::field::via) == 1, "Via in more than one field", sent);
  const std::string_view forwarded = header["X-Forwarded-For"];
  fuzz::require(forwarded.ends_with(kClient), "X-Forwarded-For does not end with the client", input);
  fuzz::require(header.count("X-Forwarded-For") == 1, "X-Forwarded-For in more than one field", sent);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  // The first byte picks where the bytes are split, as if they came in two reads.
  const std::size_t split = size > 0 ? data[0] % (size + 1) : 0;
  http::RequestParser parser;
  http::prepare_request_parser(parser);
  std::string received(text.substr(0, split));
  http::HeaderStep step = http::HeaderStep::need_more;
  for (int piece = 0; piece < 2 && step == http::HeaderStep::need_more; ++piece) {
    if (piece == 1) received += text.substr(split);
    std::size_t consumed = 0;
    step = http::feed_request_header(received, parser, consumed);
    fuzz::require(consumed <= received.size(), "consumed more than was given", text);
    received.erase(0, consumed);
  }
  if (step == http::HeaderStep::ready && http::has_knowable_length(parser)) check_prepared(parser, text);
  return 0;
}

#include "poolgate/http/request_header.hpp"

#include "poolgate/http/message_rules.hpp"

namespace poolgate::http {

namespace bhttp = boost::beast::http;

void prepare_request_parser(RequestParser& parser) {
  parser.header_limit(kHeaderLimit);
  parser.body_limit(boost::none);
}

HeaderStep feed_request_header(std::string_view received, RequestParser& parser, std::size_t& consumed) {
  consumed = 0;
  if (has_obsolete_line_folding(received)) return HeaderStep::malformed;
  boost::beast::error_code ec;
  consumed = parser.put(boost::asio::buffer(received.data(), received.size()), ec);
  if (ec == bhttp::error::header_limit) return HeaderStep::too_large;
  if (ec && ec != bhttp::error::need_more) return HeaderStep::malformed;
  return parser.is_header_done() ? HeaderStep::ready : HeaderStep::need_more;
}

bool has_knowable_length(const RequestParser& parser) {
  // One Transfer-Encoding field at most: parsers differ in how they read several (Beast judges each field on its
  // own, others join them first), and a backend reading the body's framing differently from poolgate could take
  // the rest of the body for another request. nginx refuses them too.
  const std::size_t codings = count_fields(parser.get(), bhttp::field::transfer_encoding);
  return codings == 0 || (codings == 1 && parser.chunked());
}

void prepare_for_backend(bhttp::request_header<Fields>& header, bool keep_upgrade, std::string_view client_address) {
  strip_hop_by_hop(header, keep_upgrade);
  append_via(header, header.version());
  append_forwarded_for(header, client_address);
  header.version(11);
}

}  // namespace poolgate::http

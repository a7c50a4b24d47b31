#include "poolgate/http/request_header.hpp"

#include <string>

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
  return parser.get().count(bhttp::field::transfer_encoding) == 0 || parser.chunked();
}

void prepare_for_backend(bhttp::request_header<Fields>& header, bool keep_upgrade, std::string_view client_address) {
  strip_hop_by_hop(header, keep_upgrade);
  if (header.count(bhttp::field::transfer_encoding) > 1) {
    // One field, as RFC 9110 5.3 allows: a backend that reads only the first of several could take the body
    // for something other than the chunked stream poolgate sends, and the rest of it for another request.
    std::string codings;
    for (auto it = header.find(bhttp::field::transfer_encoding);
         it != header.end() && it->name() == bhttp::field::transfer_encoding; ++it) {
      if (!codings.empty()) codings += ", ";
      codings += it->value();
    }
    header.set(bhttp::field::transfer_encoding, codings);
  }
  append_via(header, header.version());
  append_forwarded_for(header, client_address);
  header.version(11);
}

}  // namespace poolgate::http

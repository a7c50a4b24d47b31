#include "poolgate/http/message_rules.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include <boost/container/small_vector.hpp>

#include <string_view>

namespace poolgate::http {

namespace bhttp = boost::beast::http;

void strip_hop_by_hop(Fields& fields, bool keep_upgrade) {
  // Connection may come several times (Beast keeps same-named fields together) and name any field. The names are
  // views into the Connection values, which stay in place until Connection itself is erased, last: a token naming
  // Connection is left to that. Up to 8 names need no allocation.
  boost::container::small_vector<std::string_view, 8> named;
  for (auto it = fields.find(bhttp::field::connection); it != fields.end() && it->name() == bhttp::field::connection;
       ++it) {
    for (const auto& token : bhttp::token_list{it->value()}) named.emplace_back(token.data(), token.size());
  }
  for (const std::string_view name : named) {
    if (boost::beast::iequals(name, "connection")) continue;
    if (keep_upgrade && boost::beast::iequals(name, "upgrade")) continue;
    // A token naming a field that frames the message is ignored: without its Content-Length or Transfer-Encoding
    // the body would go out unframed, and the next hop could read the rest of it as another request. (Nor is a
    // request sent on without its Host.)
    if (boost::beast::iequals(name, "content-length") || boost::beast::iequals(name, "transfer-encoding") ||
        boost::beast::iequals(name, "host")) {
      continue;
    }
    fields.erase(name);
  }
  fields.erase(bhttp::field::connection);
  fields.erase(bhttp::field::keep_alive);
  fields.erase(bhttp::field::proxy_connection);
  fields.erase(bhttp::field::te);
  if (keep_upgrade) {
    fields.set(bhttp::field::connection, "upgrade");
  } else {
    fields.erase(bhttp::field::upgrade);
  }
}

void append_via(Fields& fields, unsigned version) {
  std::string hop = version >= 11 ? "1.1 " : "1.0 ";
  hop += kViaName;
  auto existing = fields.find(bhttp::field::via);
  if (existing == fields.end()) {
    fields.set(bhttp::field::via, hop);
  } else {
    fields.set(bhttp::field::via, std::string(existing->value()) + ", " + hop);
  }
}

void append_forwarded_for(Fields& fields, std::string_view client_address) {
  auto existing = fields.find("X-Forwarded-For");
  if (existing == fields.end()) {
    fields.set("X-Forwarded-For", client_address);
  } else {
    std::string value(existing->value());
    value += ", ";
    value += client_address;
    fields.set("X-Forwarded-For", value);
  }
}

bool has_obsolete_line_folding(std::string_view header_bytes) {
  const std::size_t end = header_bytes.find("\r\n\r\n");
  const std::string_view header = end == std::string_view::npos ? header_bytes : header_bytes.substr(0, end + 2);
  for (std::size_t at = header.find("\r\n"); at != std::string_view::npos; at = header.find("\r\n", at + 2)) {
    if (at + 2 < header.size() && (header[at + 2] == ' ' || header[at + 2] == '\t')) return true;
  }
  return false;
}

bool is_idempotent_retry_candidate(bhttp::verb method) {
  return method == bhttp::verb::get || method == bhttp::verb::head || method == bhttp::verb::options;
}

}  // namespace poolgate::http

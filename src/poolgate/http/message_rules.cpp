#include "poolgate/http/message_rules.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <iterator>
#include <string_view>

namespace poolgate::http {

namespace bhttp = boost::beast::http;

namespace {

// The hop-by-hop fields every message loses, whatever its Connection field says (Upgrade only when the protocol
// switch is not being forwarded). Connection itself goes last, see strip_hop_by_hop().
bool is_fixed_hop_by_hop(bhttp::field name, bool keep_upgrade) {
  switch (name) {
    case bhttp::field::keep_alive:
    case bhttp::field::proxy_connection:
    case bhttp::field::te:
      return true;
    case bhttp::field::upgrade:
      return !keep_upgrade;
    default:
      return false;
  }
}

// Whether a Connection token names a field this proxy removes. Tokens naming a field that frames the message are
// ignored: without its Content-Length or Transfer-Encoding the body would go out unframed, and the next hop could
// read the rest of it as another request (nor is a request sent on without its Host). Connection is left to the
// end of strip_hop_by_hop(), a kept Upgrade is asked for anew there.
bool names_removable_field(std::string_view token, bool keep_upgrade) {
  for (std::string_view kept : {"connection", "content-length", "transfer-encoding", "host"}) {
    if (boost::beast::iequals(token, kept)) return false;
  }
  return !(keep_upgrade && boost::beast::iequals(token, "upgrade"));
}

}  // namespace

std::size_t count_fields(const Fields& fields, bhttp::field name) {
  return static_cast<std::size_t>(
      std::count_if(fields.begin(), fields.end(), [name](const auto& field) { return field.name() == name; }));
}

std::string_view first_value(const Fields& fields, bhttp::field name) {
  for (const auto& field : fields) {
    if (field.name() == name) return {field.value().data(), field.value().size()};
  }
  return {};
}

// Walks rather than Beast's find() and erase(name), as in count_fields(): these run for every request and every
// response.
void strip_hop_by_hop(Fields& fields, bool keep_upgrade) {
  // Connection may come several times and name any field. The names are views into the Connection values, which
  // stay in place until Connection itself is erased, last. Up to 8 names need no allocation.
  boost::container::small_vector<std::string_view, 8> named;
  bool has_connection = false;
  for (const auto& field : fields) {
    if (field.name() != bhttp::field::connection) continue;
    has_connection = true;
    for (const auto& token : bhttp::token_list{field.value()}) {
      const std::string_view name(token.data(), token.size());
      if (names_removable_field(name, keep_upgrade)) named.push_back(name);
    }
  }
  auto is_named = [&named](std::string_view field_name) {
    return std::any_of(named.begin(), named.end(),
                       [field_name](std::string_view name) { return boost::beast::iequals(name, field_name); });
  };
  for (auto it = fields.begin(); it != fields.end();) {
    const bhttp::field name = it->name();
    const bool erase = name != bhttp::field::connection &&
                       (is_fixed_hop_by_hop(name, keep_upgrade) || (!named.empty() && is_named(it->name_string())));
    it = erase ? fields.erase(it) : std::next(it);
  }
  if (has_connection) {
    for (auto it = fields.begin(); it != fields.end();) {
      it = it->name() == bhttp::field::connection ? fields.erase(it) : std::next(it);
    }
  }
  if (keep_upgrade) fields.insert(bhttp::field::connection, "upgrade");
}

namespace {

// Appends `item` to the comma-separated list held by the fields `matches` picks, keeping the earlier items. Several
// such fields are joined into one (set() replaces them all); empty ones add nothing.
template <class Matches, class Name>
void append_to_list(Fields& fields, Matches matches, Name name, std::string_view item) {
  std::string list;
  bool present = false;
  for (const auto& field : fields) {  // a walk, as in count_fields()
    if (!matches(field)) continue;
    present = true;
    if (field.value().empty()) continue;
    list.append(field.value().data(), field.value().size());
    list += ", ";
  }
  if (!present) {
    fields.insert(name, item);  // the usual case: nothing to replace, which set() would search for
    return;
  }
  list += item;
  fields.set(name, list);
}

}  // namespace

void append_via(Fields& fields, unsigned version) {
  const std::string_view hop = version >= 11 ? "1.1 poolgate" : "1.0 poolgate";
  static_assert(kViaName == "poolgate");
  append_to_list(
      fields, [](const auto& field) { return field.name() == bhttp::field::via; }, bhttp::field::via, hop);
}

void append_forwarded_for(Fields& fields, std::string_view client_address) {
  static constexpr std::string_view kName = "X-Forwarded-For";
  append_to_list(
      fields,
      [](const auto& field) {
        return field.name() == bhttp::field::unknown && boost::beast::iequals(field.name_string(), kName);
      },
      kName, client_address);
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

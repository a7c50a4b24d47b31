// What a proxy changes in the HTTP messages it forwards, and the checks Beast's parser leaves to us: hop-by-hop
// fields (RFC 9110 7.6.1) out, Via and X-Forwarded-For in, obsolete line folding refused, idempotency for retries.
#pragma once

#include "poolgate/http/fields.hpp"
#include <boost/beast/http/verb.hpp>

#include <string>
#include <string_view>

namespace poolgate::http {

// The token a proxy puts in Via after the protocol version (RFC 9110 7.6.3).
inline constexpr std::string_view kViaName = "poolgate";

// Removes Connection, every field it names, and the fixed hop-by-hop fields (Keep-Alive, Proxy-Connection, TE,
// Upgrade). With `keep_upgrade` the Upgrade field survives and Connection is set to "upgrade", so a protocol
// switch can be asked of the next hop.
// Afterwards the message has no Connection field but that one.
void strip_hop_by_hop(Fields& fields, bool keep_upgrade);

// How many fields named `name` there are, and the first one's value (empty when none): by a walk over the
// fields, which for the dozen a message usually has costs a tenth of Beast's count() and operator[] (their name
// index compares names as case-insensitive strings).
std::size_t count_fields(const Fields& fields, boost::beast::http::field name);
std::string_view first_value(const Fields& fields, boost::beast::http::field name);

// Appends this hop to Via ("1.1 poolgate"), keeping earlier hops; `version` is the sender's, 10 or 11.
void append_via(Fields& fields, unsigned version);

// Appends `client_address` to X-Forwarded-For, keeping what earlier proxies wrote.
void append_forwarded_for(Fields& fields, std::string_view client_address);

// Whether `header_bytes` (the start of a message, possibly incomplete) folds a field over two lines: a line
// break followed by a space or tab before the blank line that ends the header. RFC 9112 5.2 lets a server
// refuse such a request with 400, which closes a request-smuggling door Beast's parser leaves open by unfolding.
bool has_obsolete_line_folding(std::string_view header_bytes);

// GET, HEAD, OPTIONS: safe to send a second time (when bodiless) if the first attempt may not have reached the server.
bool is_idempotent_retry_candidate(boost::beast::http::verb method);

}  // namespace poolgate::http

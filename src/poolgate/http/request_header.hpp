// A request header from raw bytes to what the backend is sent: the steps of a client session that need no
// socket, kept apart so a fuzzer drives exactly the code a client's bytes reach.
#pragma once

#include "poolgate/http/message_stream.hpp"

#include <boost/beast/http/message.hpp>

#include <cstddef>
#include <string_view>

namespace poolgate::http {

inline constexpr std::size_t kHeaderLimit = 64 * 1024;  // a larger request header is refused with 431

using RequestParser = StreamingParser<true>;

// A parser for one request: header limit kHeaderLimit, any body size (bodies are streamed, never held).
void prepare_request_parser(RequestParser& parser);

enum class HeaderStep { need_more, ready, malformed, too_large };

// Feeds what has arrived so far to `parser`; the first `consumed` bytes of `received` are then done with.
// Obsolete line folding is refused here, on the raw bytes, because Beast's parser would quietly unfold it.
HeaderStep feed_request_header(std::string_view received, RequestParser& parser, std::size_t& consumed);

// After the header: whether the body's length can be known, unambiguously (one Transfer-Encoding field, ending
// in chunked).
bool has_knowable_length(const RequestParser& parser);

// Edits the header for the backend: hop-by-hop fields out (Upgrade kept when `keep_upgrade`), Via and
// X-Forwarded-For in, HTTP/1.1 so the backend connection can be kept alive.
void prepare_for_backend(boost::beast::http::request_header<Fields>& header, bool keep_upgrade,
                         std::string_view client_address);

}  // namespace poolgate::http

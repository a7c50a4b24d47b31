// Streams one HTTP message from one socket to another through a bounded buffer, with Beast's buffer_body
// parser and serializer: the framing (length or chunked) is re-created, never the body held whole.
#pragma once

#include "poolgate/http/fields.hpp"
#include "poolgate/relay/relay.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace poolgate::http {

inline constexpr std::size_t kBodyChunk = 32 * 1024;  // the most body bytes held per session at any moment
using BodyChunk = std::array<char, kBodyChunk>;

// How streaming one message from one socket to another ended.
enum class Flow { done, source_failed, source_malformed, destination_failed };

inline bool is_socket_error(const boost::system::error_code& ec) {
  namespace bhttp = boost::beast::http;
  return ec.category() == boost::asio::error::get_system_category() || ec == boost::asio::error::eof ||
         ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message;
}

namespace detail {
// This thread's staging area (kStagingSize bytes): a write is gathered here and leaves in one send(). It is the
// next session's once a write waits, which relay::send_all allows for.
inline constexpr std::size_t kStagingSize = 16 * 1024;
char* staging_area();
}  // namespace detail

template <bool isRequest>
using StreamingParser = boost::beast::http::parser<isRequest, boost::beast::http::buffer_body, RecyclingAllocator<char>>;
template <bool isRequest>
using StreamingSerializer = boost::beast::http::serializer<isRequest, boost::beast::http::buffer_body, Fields>;

// Writes what `serializer` has ready (its header only, when `header_only`). Beast presents a header as a few
// small buffers per field; gathered into one, the message leaves in one plain send() that the kernel copies
// at once instead of walking dozens of iovecs. The gathering walks Beast's buffer sequence once (its iterators
// are costly: a measurable share of a request's CPU), copying until the staging area is full; only what does
// not fit goes out the way Beast writes it.
template <bool isRequest>
boost::asio::awaitable<boost::system::error_code> write_ready(boost::asio::ip::tcp::socket& to,
                                                              StreamingSerializer<isRequest>& serializer,
                                                              bool header_only, std::uint64_t& written) {
  namespace bhttp = boost::beast::http;
  constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
  if (header_only) serializer.split(true);
  char* const staging = detail::staging_area();
  std::size_t gathered = 0;
  bool overflow = false;
  boost::system::error_code ec;
  while (!overflow && !(header_only ? serializer.is_header_done() : serializer.is_done())) {
    serializer.next(ec, [&](boost::system::error_code& visit_ec, const auto& buffers) {
      visit_ec = {};
      std::size_t taken = 0;
      const auto end = boost::asio::buffer_sequence_end(buffers);
      for (auto it = boost::asio::buffer_sequence_begin(buffers); it != end; ++it) {
        const boost::asio::const_buffer piece = *it;
        const std::size_t fits = std::min(piece.size(), detail::kStagingSize - gathered);
        if (fits > 0) std::memcpy(staging + gathered, piece.data(), fits);
        gathered += fits;
        taken += fits;
        if (fits < piece.size()) {
          overflow = true;
          break;
        }
      }
      serializer.consume(taken);
    });
    if (ec == bhttp::error::need_buffer) {  // buffer_body: the body bytes read so far are all taken
      ec = {};
      break;
    }
    if (ec) co_return ec;
  }
  // Usually the socket takes it all at once, and no coroutine is needed for the waiting kind of send.
  const char* unsent = staging;
  int failure = relay::send_now(to, unsent, gathered, written);
  if (failure == 0 && gathered > 0) failure = co_await relay::send_all(to, unsent, gathered, written);
  if (failure != 0) co_return boost::system::error_code(failure, boost::system::system_category());
  if (!overflow) co_return ec;
  auto [write_ec, n] = header_only ? co_await bhttp::async_write_header(to, serializer, use_tuple)
                                   : co_await bhttp::async_write(to, serializer, use_tuple);
  written += n;
  if (write_ec == bhttp::error::need_buffer) write_ec = {};
  co_return write_ec;
}

// Writes the (already edited) header of the message `parser` holds, then streams its body from `from` to `to`
// through `chunk`, as it arrives: chunked stays chunked, a length stays a length. The header waits for the
// first body bytes (usually already buffered), so a small message leaves in one write.
template <bool isRequest>
boost::asio::awaitable<Flow> stream_message(boost::asio::ip::tcp::socket& from, boost::beast::flat_buffer& from_buffer,
                                            StreamingParser<isRequest>& parser, boost::asio::ip::tcp::socket& to,
                                            BodyChunk& chunk, std::uint64_t& written) {
  namespace bhttp = boost::beast::http;
  constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
  StreamingSerializer<isRequest> serializer{parser.get()};
  if (parser.is_done()) {
    // No body by the framing rules (HEAD's answer, 1xx, 204, 304, a length of 0): the header alone. Going through
    // the body loop would end a header that says "chunked" with a last-chunk the peer must not receive.
    co_return co_await write_ready(to, serializer, true, written) ? Flow::destination_failed : Flow::done;
  }
  auto& body = parser.get().body();
  while (!serializer.is_done()) {
    if (parser.is_done()) {
      body.data = nullptr;
      body.size = 0;
      body.more = false;
    } else {
      body.data = chunk.data();
      body.size = chunk.size();
      // read_some, not read: a streamed response (a watch) must reach the client as it comes, not 32 KiB later.
      auto [ec, n] = co_await bhttp::async_read_some(from, from_buffer, parser, use_tuple);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) co_return is_socket_error(ec) ? Flow::source_failed : Flow::source_malformed;
      body.size = chunk.size() - body.size;
      // No data must be null, not empty: an empty buffer is serialized as a chunk of size 0, which in chunked
      // coding is the end of the body.
      body.data = body.size > 0 ? chunk.data() : nullptr;
      body.more = !parser.is_done();
    }
    if (co_await write_ready(to, serializer, false, written)) co_return Flow::destination_failed;
  }
  co_return Flow::done;
}

}  // namespace poolgate::http

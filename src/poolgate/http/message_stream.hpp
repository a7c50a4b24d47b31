// Streams one HTTP message from one socket to another through a bounded buffer, with Beast's buffer_body
// parser: the header and the framing (length or chunked) are re-created, never the body held whole.
#pragma once

#include "poolgate/http/fields.hpp"
#include "poolgate/relay/relay.hpp"
#include "poolgate/relay/socket_reader.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/assert.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

namespace poolgate::http {

// How much a session asks of a socket per read (into its flat_buffer), headers and bodies alike.
inline constexpr std::size_t kReadSize = 16 * 1024;
// The most a body's framing (a chunk-size line with its extensions, the trailer section) may leave unparsed.
inline constexpr std::size_t kUnparsedLimit = 64 * 1024;

// How streaming one message from one socket to another ended.
enum class Flow { done, source_failed, source_malformed, destination_failed };

namespace detail {
// This thread's staging area (kStagingSize bytes): a message's bytes are gathered here and leave in one send().
// It is the next session's once a send waits, which relay::send_rest allows for by copying the rest first. It is
// also where a body's bytes are parsed to: the most body bytes in flight per thread, not per session.
inline constexpr std::size_t kStagingSize = 64 * 1024;
char* staging_area();

// Bytes gathered in this thread's staging area for one send. Nothing may suspend between an append and the
// send: while one session waits, another fills the area.
class Gather {
 public:
  Gather() : area_(staging_area()) {}

  // Copies `buffers`, from byte `skip` on, until the area is full; returns the bytes copied. Walks the sequence
  // once: Beast's composite buffer iterators are costly enough to show in a request's profile.
  template <class Buffers>
  std::size_t append(const Buffers& buffers, std::size_t skip = 0) {
    std::size_t copied = 0;
    const auto end = boost::asio::buffer_sequence_end(buffers);
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != end && !full(); ++it) {
      boost::asio::const_buffer piece = *it;
      if (skip >= piece.size()) {
        skip -= piece.size();
        continue;
      }
      piece += skip;
      skip = 0;
      const std::size_t fits = std::min(piece.size(), kStagingSize - size_);
      std::memcpy(area_ + size_, piece.data(), fits);
      size_ += fits;
      copied += fits;
    }
    return copied;
  }
  bool full() const { return size_ == kStagingSize; }
  // Where the next byte goes, and how many fit: for a writer that fills the area itself, then commit()s.
  char* end() const { return area_ + size_; }
  std::size_t room() const { return kStagingSize - size_; }
  void commit(std::size_t n) {
    BOOST_ASSERT(n <= room());
    size_ += n;
  }

  // Sends what was gathered as far as the socket takes it now. Returns 0 or the errno of the failure; what did
  // not fit is then unsent() and must go with send_rest() before anything else is gathered.
  int send_now(boost::asio::ip::tcp::socket& to, std::uint64_t& written) {
    unsent_ = area_;
    left_ = size_;
    size_ = 0;
    return relay::send_now(to, unsent_, left_, written);
  }
  bool unsent() const { return left_ > 0; }
  // The waiting kind of send, a coroutine of its own: only for what send_now() left. To be co_awaited at once:
  // relay::send_rest copies the unsent bytes out of the shared area when it starts, before its first wait.
  boost::asio::awaitable<int> send_rest(boost::asio::ip::tcp::socket& to, std::uint64_t& written) {
    const std::size_t left = std::exchange(left_, 0);
    return relay::send_rest(to, unsent_, left, written);
  }

  // After append() filled the area having copied `copied` bytes of `buffers`: sends and appends the rest, as
  // often as it takes. Returns 0 or the errno of a failed send.
  template <class Buffers>
  boost::asio::awaitable<int> spill(const Buffers& buffers, std::size_t copied, boost::asio::ip::tcp::socket& to,
                                    std::uint64_t& written) {
    while (full()) {
      int failure = send_now(to, written);
      if (failure == 0 && unsent()) failure = co_await send_rest(to, written);
      if (failure != 0) co_return failure;
      copied += append(buffers, copied);
    }
    co_return 0;
  }

 private:
  char* area_;
  std::size_t size_ = 0;
  const char* unsent_ = nullptr;
  std::size_t left_ = 0;
};

inline boost::beast::http::basic_fields<RecyclingAllocator<char>>::writer header_writer(
    const boost::beast::http::request_header<Fields>& header) {
  return {header, header.version(), header.method()};
}
inline boost::beast::http::basic_fields<RecyclingAllocator<char>>::writer header_writer(
    const boost::beast::http::response_header<Fields>& header) {
  return {header, header.version(), header.result_int()};
}
}  // namespace detail

template <bool isRequest>
using StreamingParser = boost::beast::http::parser<isRequest, boost::beast::http::buffer_body, RecyclingAllocator<char>>;

// Reads until `parser` has a whole header (what came after it stays in `buffer`), as Beast's async_read_header
// would, but through `from`. Fails with Beast's end_of_stream when the peer closed before sending anything, with
// partial_message when it closed mid-header, or with the parser's or the read's error.
template <bool isRequest>
boost::asio::awaitable<boost::system::error_code> read_header(relay::SocketReader& from,
                                                              boost::beast::flat_buffer& buffer,
                                                              StreamingParser<isRequest>& parser) {
  namespace bhttp = boost::beast::http;
  for (;;) {
    if (buffer.size() > 0) {
      boost::system::error_code ec;
      buffer.consume(parser.put(buffer.data(), ec));
      // The error first: a header the parser rejects at its end (a body limit, say) is marked done all the same.
      if (ec && ec != bhttp::error::need_more) co_return ec;
      if (parser.is_header_done()) co_return boost::system::error_code();
    }
    auto [ec, n] = co_await from.read_some(buffer.prepare(kReadSize));
    if (ec == boost::asio::error::eof) {
      co_return parser.got_some() || buffer.size() > 0 ? bhttp::error::partial_message : bhttp::error::end_of_stream;
    }
    if (ec) co_return ec;
    buffer.commit(n);
  }
}

// Writes the (already edited) header of the message `parser` holds, then streams its body from `from` to `to` as
// it arrives, framed as the parser read it (not as the header's fields might be read): chunked stays chunked, a
// length stays a length. `unchunk`: the body goes out as it is, ended by the close, for an HTTP/1.0 client whose
// header was edited to match. Beast's parser takes the bytes and its fields writer renders the header. Body bytes
// are parsed straight into the thread's staging area, behind what is gathered there, so a session holds no body
// buffer of its own. Bytes already buffered are parsed at once (Beast's async_read_some would take an extra
// loop turn for them): a small message whose body came with its header leaves in one send.
template <bool isRequest>
boost::asio::awaitable<Flow> stream_message(relay::SocketReader& from, boost::beast::flat_buffer& from_buffer,
                                            StreamingParser<isRequest>& parser, boost::asio::ip::tcp::socket& to,
                                            std::uint64_t& written, bool unchunk = false) {
  namespace bhttp = boost::beast::http;
  constexpr std::size_t kSizeLine = 2 * sizeof(std::size_t) + 2;  // the longest "<size in hex>\r\n"
  constexpr std::size_t kMinWindow = 4096;  // less room than this for body bytes: send what is gathered first
  auto& message = parser.get();
  // No body by the framing rules (HEAD's answer, 1xx, 204, 304, a length of 0) means the header alone, even when
  // it says "chunked": no last-chunk must follow.
  const bool chunked = parser.chunked() && !unchunk && !parser.is_done();
  // Chunked, each piece is "<size in hex>\r\n<data>\r\n": room is kept before the data for the size line and
  // after it for the CRLF.
  const std::size_t before = chunked ? kSizeLine : 0;
  const std::size_t after = chunked ? 2 : 0;
  detail::Gather gather;
  {
    const auto header = detail::header_writer(message);
    const std::size_t copied = gather.append(header.get());
    if (gather.full() && co_await gather.spill(header.get(), copied, to, written) != 0) {
      co_return Flow::destination_failed;
    }
  }
  parser.eager(true);  // parse across chunk boundaries: one put() takes whatever is buffered
  auto& body = message.body();
  while (!parser.is_done()) {
    if (gather.room() < before + kMinWindow + after) {
      int failure = gather.send_now(to, written);
      if (failure == 0 && gather.unsent()) failure = co_await gather.send_rest(to, written);
      if (failure != 0) co_return Flow::destination_failed;
    }
    char* const window = gather.end() + before;
    const std::size_t window_size = gather.room() - before - after;
    body.data = window;
    body.size = window_size;
    boost::system::error_code ec = bhttp::error::need_more;
    if (from_buffer.size() > 0) {
      ec = {};
      from_buffer.consume(parser.put(from_buffer.data(), ec));
      if (ec == bhttp::error::need_buffer) ec = {};  // the window is full: send it, then parse on
      if (ec && ec != bhttp::error::need_more) co_return Flow::source_malformed;
      // A chunk-size line or trailer section that never ends must not grow the buffer without bound.
      if (ec == bhttp::error::need_more && from_buffer.size() >= kUnparsedLimit) co_return Flow::source_malformed;
    }
    if (const std::size_t got = window_size - body.size; got > 0) {
      if (chunked) {
        char* const line = gather.end();
        char* line_end = std::to_chars(line, line + kSizeLine - 2, got, 16).ptr;
        *line_end++ = '\r';
        *line_end++ = '\n';
        std::memmove(line_end, window, got);  // up against its size line
        std::memcpy(line_end + got, "\r\n", 2);  // within the `after` bytes kept behind the window
        gather.commit(static_cast<std::size_t>(line_end - line) + got + 2);
      } else {
        gather.commit(got);
      }
    }
    if (ec != bhttp::error::need_more) continue;
    // Nothing left to parse: what is gathered leaves now, before this session waits for its source.
    int failure = gather.send_now(to, written);
    if (failure == 0 && gather.unsent()) failure = co_await gather.send_rest(to, written);
    if (failure != 0) co_return Flow::destination_failed;
    auto [read_ec, n] = co_await from.read_some(from_buffer.prepare(kReadSize));
    from_buffer.commit(n);
    if (read_ec == boost::asio::error::eof && parser.got_some()) {
      parser.put_eof(read_ec);  // a body delimited by the close ends here; any other was cut short
      if (read_ec) co_return Flow::source_failed;
    } else if (read_ec) {
      co_return Flow::source_failed;
    }
  }
  if (chunked) {
    static constexpr std::string_view kLastChunk = "0\r\n\r\n";  // no trailer fields
    const std::size_t copied = gather.append(boost::asio::buffer(kLastChunk));
    if (gather.full() && co_await gather.spill(boost::asio::buffer(kLastChunk), copied, to, written) != 0) {
      co_return Flow::destination_failed;
    }
  }
  int failure = gather.send_now(to, written);
  if (failure == 0 && gather.unsent()) failure = co_await gather.send_rest(to, written);
  co_return failure != 0 ? Flow::destination_failed : Flow::done;
}

}  // namespace poolgate::http

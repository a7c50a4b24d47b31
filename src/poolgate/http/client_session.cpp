#include "poolgate/http/client_session.hpp"

#include "poolgate/http/deadline.hpp"
#include "poolgate/http/linger.hpp"
#include "poolgate/http/message_rules.hpp"
#include "poolgate/http/message_stream.hpp"
#include "poolgate/http/request_header.hpp"
#include "poolgate/http/tunnel.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <array>
#include <charconv>
#include <optional>
#include <utility>

namespace poolgate::http {
namespace {

namespace bhttp = boost::beast::http;
using boost::asio::ip::tcp;
constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

using ResponseParser = StreamingParser<false>;

// The client's address as X-Forwarded-For gives it. IPv4 is written with to_chars: Asio's to_string goes
// through inet_ntop, whose sprintf is a measurable share of a one-request connection's CPU.
std::string forwarded_for_text(const boost::asio::ip::address& address) {
  if (!address.is_v4()) return address.to_string();
  const boost::asio::ip::address_v4::bytes_type octets = address.to_v4().to_bytes();
  std::array<char, 16> text{};  // "255.255.255.255"
  char* end = text.data();
  for (std::size_t i = 0; i < octets.size(); ++i) {
    if (i > 0) *end++ = '.';
    end = std::to_chars(end, text.data() + text.size(), octets[i]).ptr;
  }
  return std::string(text.data(), end);
}

// One request's place in its worker's count of requests in flight, until its answer begins.
class CountedRequest {
 public:
  explicit CountedRequest(admin::LocalGauge* in_flight) : in_flight_(in_flight) {
    if (in_flight_ != nullptr) in_flight_->add(1);
  }
  ~CountedRequest() { end(); }
  CountedRequest(const CountedRequest&) = delete;
  CountedRequest& operator=(const CountedRequest&) = delete;
  void end() {
    if (in_flight_ != nullptr) std::exchange(in_flight_, nullptr)->add(-1);
  }

 private:
  admin::LocalGauge* in_flight_;
};

class ClientSession {
 public:
  ClientSession(SessionSockets sockets, Upstream& upstream, const SessionSettings& settings, relay::PipePool& pipes,
                admin::HttpRefusals& refusals)
      : s_(sockets),
        upstream_(upstream),
        settings_(settings),
        pipes_(pipes),
        refusals_(refusals),
        deadline_(std::make_shared<Deadline>(sockets.client)),
        drained_(sockets.client.get_executor()),
        client_reader_(sockets.client, drained_),
        backend_reader_(sockets.backend, drained_),
        client_address_(forwarded_for_text(sockets.peer.address())) {}
  ~ClientSession() { retire(*deadline_); }
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // True when the session ends having written a final response (a refusal, or an answer after which the
  // connection closes) while the client may have sent more than was read: the close must linger.
  boost::asio::awaitable<bool> run();

 private:
  enum class HeaderOutcome { ready, closed, malformed, too_large, timed_out };

  boost::asio::awaitable<HeaderOutcome> read_request_header(RequestParser& request);
  // Forwards one request and its response. True: the client may send another.
  boost::asio::awaitable<bool> exchange(RequestParser& request);
  boost::asio::awaitable<bool> send_request(RequestParser& request, std::optional<ResponseParser>& response,
                                            bool& nothing_received);
  boost::asio::awaitable<bool> deliver_response(ResponseParser& response, unsigned client_version,
                                                bool client_keep_alive, bool request_sent_whole);
  boost::asio::awaitable<void> refuse(bhttp::status status);
  // Takes `backend` as the request's endpoint, counted in its poolgate_connections_active until release_target().
  void hold_target(const balance::BackendPtr& backend);
  void release_target();
  // Gives the backend connection back as unusable (closed, its pool slot freed) but keeps the target, so the
  // request still counts for it while a retry dials it again.
  void discard_connection();
  void drop_backend();

  SessionSockets s_;
  Upstream& upstream_;
  const SessionSettings& settings_;
  relay::PipePool& pipes_;
  admin::HttpRefusals& refusals_;
  std::shared_ptr<Deadline> deadline_;
  relay::DrainedWait drained_;
  relay::SocketReader client_reader_;
  relay::SocketReader backend_reader_;  // restarted for each connection that s_.backend takes
  std::string client_address_;
  boost::beast::flat_buffer client_buffer_;   // read from the client, not yet parsed (pipelined requests wait here)
  boost::beast::flat_buffer backend_buffer_;  // read from the backend, not yet parsed
  pool::Checkout checkout_;  // of the backend connection in use
  // Not given back in the destructor: a session destroyed unfinished belongs to a worker being torn down, whose
  // gauges no longer matter (TCP mode counts the same way).
  admin::LocalGauge* active_ = nullptr;  // the target's gauge while this session counts in it
  // The current request got a whole final response (refusal included) after which the client may still be
  // sending: closing now could reset the connection before the client has read that response.
  bool must_linger_ = false;
};

boost::asio::awaitable<bool> ClientSession::run() {
  for (;;) {
    RequestParser request;
    prepare_request_parser(request);
    const HeaderOutcome outcome = co_await read_request_header(request);
    // The header timeout bounds the client's header, not the refusal poolgate writes after it.
    disarm(*deadline_);
    switch (outcome) {
      case HeaderOutcome::ready:
        break;
      case HeaderOutcome::closed:
        co_return false;
      case HeaderOutcome::malformed:
        ++refusals_.malformed;
        co_await refuse(bhttp::status::bad_request);
        co_return must_linger_;
      case HeaderOutcome::too_large:
        ++refusals_.header_too_large;
        co_await refuse(bhttp::status::request_header_fields_too_large);
        co_return must_linger_;
      case HeaderOutcome::timed_out:
        ++refusals_.timed_out;
        co_return false;
    }
    must_linger_ = false;
    // Draining: the response said Connection: close (unless its header was made before the drain began);
    // either way nothing more is read from this client.
    if (!co_await exchange(request) || s_.drain.requested) co_return must_linger_;
  }
}

boost::asio::awaitable<ClientSession::HeaderOutcome> ClientSession::read_request_header(RequestParser& request) {
  // The idle timeout runs until the request's first byte, the header timeout from then on. A header that is
  // here whole when first parsed needed neither: most often, what was read with the previous request.
  bool started = false;
  arm(deadline_, settings_.idle_timeout);
  for (;;) {
    if (client_buffer_.size() > 0) {
      const auto bytes = client_buffer_.data();
      std::size_t consumed = 0;
      const HeaderStep step =
          feed_request_header({static_cast<const char*>(bytes.data()), bytes.size()}, request, consumed);
      client_buffer_.consume(consumed);
      if (step == HeaderStep::malformed) co_return HeaderOutcome::malformed;
      if (step == HeaderStep::too_large) co_return HeaderOutcome::too_large;
      if (step == HeaderStep::ready) co_return HeaderOutcome::ready;
      if (!started) {
        started = true;
        arm(deadline_, settings_.header_timeout);
      }
    }
    if (!started && s_.drain.requested) co_return HeaderOutcome::closed;
    // Only a client that has sent nothing of its next request may be cut off by a drain (begin_drain).
    s_.drain.idle = !started;
    auto [ec, n] = co_await client_reader_.read_some(client_buffer_.prepare(kReadSize));
    s_.drain.idle = false;
    client_buffer_.commit(n);
    if (deadline_->expired) co_return HeaderOutcome::timed_out;
    if (ec) co_return HeaderOutcome::closed;  // gone, mid-header or between requests: nobody to answer
  }
}

boost::asio::awaitable<bool> ClientSession::exchange(RequestParser& request) {
  auto& message = request.get();
  // A Transfer-Encoding that does not end in chunked leaves the body's length unknowable (RFC 9112 6.3).
  if (!has_knowable_length(request)) {
    ++refusals_.malformed;
    co_await refuse(bhttp::status::bad_request);
    co_return false;
  }
  const unsigned client_version = message.version();
  const bool client_keep_alive = request.keep_alive();
  const bool wants_upgrade = request.upgrade();
  const bool is_connect = message.method() == bhttp::verb::connect;
  const bool retryable = is_idempotent_retry_candidate(message.method()) && request.is_done();
  // The proxy answers "100 Continue" itself: the body is streamed only after the backend is chosen, and a
  // client waiting for the backend's 100 while we wait for its body would stall both.
  if (boost::beast::iequals(first_value(message, bhttp::field::expect), "100-continue")) {
    message.erase(bhttp::field::expect);
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    auto [ec, n] = co_await boost::asio::async_write(s_.client, boost::asio::buffer(kContinue), use_tuple);
    if (ec) co_return false;
  }
  prepare_for_backend(message, wants_upgrade, client_address_);

  checkout_ = {};
  const balance::BackendPtr leased = co_await upstream_.lease(s_.backend, s_.client, checkout_);
  if (!leased) {
    co_await refuse(bhttp::status::bad_gateway);
    co_return false;
  }
  hold_target(leased);
  CountedRequest counted(settings_.requests_in_flight);
  backend_reader_.restart(checkout_.drained);
  bool retried = false;

  std::optional<ResponseParser> response;
  bool sent_whole = false;
  for (;;) {
    admin::EndpointStats& stats = upstream_.stats_of(*s_.target);
    ++stats.http_requests;
    if (checkout_.used_before) ++stats.http_reused;
    bool nothing_received = false;
    sent_whole = co_await send_request(request, response, nothing_received);
    if (sent_whole && response) break;
    if (!s_.client.is_open() || !s_.backend.is_open()) {
      // The client left while its request was on the way, or the worker closed the pair (drain, removal).
      drop_backend();
      co_return false;
    }
    // A reused connection the backend closed just before our request (its keep-alive timeout racing us): the
    // request never reached it, so an idempotent one may go once more on a connection dialed now.
    if (nothing_received && checkout_.used_before && retryable && !retried) {
      retried = true;
      ++stats.http_retries;
      const balance::BackendPtr target = s_.target;
      discard_connection();
      if (co_await upstream_.dial_fresh(s_.backend, target)) {
        checkout_ = {};
        backend_reader_.restart(false);
        continue;
      }
    }
    ++stats.http_response_errors;
    drop_backend();
    co_await refuse(bhttp::status::bad_gateway);
    co_return false;
  }
  // The answer has begun. What follows is streaming, which may go on for hours (a watch): no sign of load.
  counted.end();

  ResponseParser& parsed = *response;
  if (parsed.get().result() == bhttp::status::switching_protocols && !wants_upgrade) {
    // A protocol switch nobody asked for: what follows cannot be framed as HTTP.
    ++upstream_.stats_of(*s_.target).http_response_errors;
    drop_backend();
    co_await refuse(bhttp::status::bad_gateway);
    co_return false;
  }
  const bool switching = (wants_upgrade && parsed.get().result() == bhttp::status::switching_protocols) ||
                         (is_connect && bhttp::to_status_class(parsed.get().result()) == bhttp::status_class::successful);
  if (switching) {
    strip_hop_by_hop(parsed.get(), wants_upgrade);
    append_via(parsed.get(), parsed.get().version());
    std::uint64_t written = 0;
    const Flow answer = co_await stream_message(backend_reader_, backend_buffer_, parsed, s_.client, written);
    s_.bytes.to_client += written;
    if (answer != Flow::done) {
      drop_backend();
      co_return false;
    }
    co_await tunnel(s_.client, s_.backend, client_buffer_, backend_buffer_, pipes_, s_.bytes);
    drop_backend();  // closed by the relay (or left to us by a failed write); this hands its pool slot back
    co_return false;
  }
  if (is_connect) {
    // A refused CONNECT: its body (if any) was skipped, so the connection's framing is lost; close both.
    parsed.get().keep_alive(false);
  }
  const bool serve_more = co_await deliver_response(parsed, client_version, client_keep_alive && !is_connect, sent_whole);
  // A client that asked for the close itself, whose request was read to its end with nothing after it, sends
  // no more (RFC 9112 9.6): a plain close is safe and spares the lingering read. Not a refused CONNECT: its
  // client may already be sending tunnel bytes, whatever its HTTP version implies about keep-alive.
  if (!client_keep_alive && !is_connect && sent_whole && client_buffer_.size() == 0) must_linger_ = false;
  co_return serve_more;
}

// Sends the request (header and body) on s_.backend and reads the final response's header into `response`;
// interim 1xx responses go to the client on the way. False when either side failed; `nothing_received` then
// says whether the backend answered nothing at all (the request may be retried).
boost::asio::awaitable<bool> ClientSession::send_request(RequestParser& request, std::optional<ResponseParser>& response,
                                                         bool& nothing_received) {
  response.reset();
  const Flow sent = co_await stream_message(client_reader_, client_buffer_, request, s_.backend, s_.bytes.to_backend);
  if (sent == Flow::source_failed || sent == Flow::source_malformed) {
    // The client's body broke off or was malformed (a bad chunk size): the backend holds half a request.
    if (sent == Flow::source_malformed) {
      ++refusals_.malformed;
      drop_backend();
      co_await refuse(bhttp::status::bad_request);  // the client stays open for the lingering close
      co_return false;
    }
    boost::system::error_code ignored;
    s_.client.close(ignored);
    co_return false;
  }
  if (sent == Flow::destination_failed) {
    nothing_received = true;
    co_return false;
  }
  const bool head = request.get().method() == bhttp::verb::head;
  const bool connect = request.get().method() == bhttp::verb::connect;
  for (;;) {
    response.emplace();
    response->header_limit(kHeaderLimit);
    response->body_limit(boost::none);
    // No body follows the header of an answer to HEAD, nor of a successful CONNECT (the tunnel starts there).
    if (head || connect) response->skip(true);
    if (const auto ec = co_await read_header(backend_reader_, backend_buffer_, *response)) {
      nothing_received = ec == bhttp::error::end_of_stream || ec == boost::asio::error::connection_reset;
      response.reset();
      co_return false;
    }
    // Transfer-Encoding in two fields: poolgate frames the body by Beast's reading of them, the client by its
    // own, and one that reads "chunked, gzip" waits for a close while the next answer arrives on its connection.
    // Refused like such a request (502, the connection dropped).
    if (count_fields(response->get(), bhttp::field::transfer_encoding) > 1) {
      response.reset();
      co_return false;
    }
    const unsigned status = response->get().result_int();
    if (status >= 200 || status == 101) co_return true;
    // 100 Continue, 103 Early Hints: passed on; the final response follows on the same connection.
    strip_hop_by_hop(response->get(), false);
    std::uint64_t written = 0;
    const Flow interim = co_await stream_message(backend_reader_, backend_buffer_, *response, s_.client, written);
    s_.bytes.to_client += written;
    if (interim != Flow::done) co_return false;
  }
}

boost::asio::awaitable<bool> ClientSession::deliver_response(ResponseParser& response, unsigned client_version,
                                                             bool client_keep_alive, bool request_sent_whole) {
  auto& message = response.get();
  const bool backend_keep_alive = response.keep_alive();
  bool close_client = !client_keep_alive || response.need_eof() || s_.drain.requested;
  const bool unchunk = client_version < 11 && response.chunked();
  if (unchunk) {
    // An HTTP/1.0 client knows no transfer coding at all: send the body as it is and mark its end by closing.
    message.erase(bhttp::field::transfer_encoding);
    close_client = true;
  }
  strip_hop_by_hop(message, false);
  append_via(message, message.version());
  // Connection is gone (stripped): insert, which spares set()'s search for an old value.
  if (close_client) {
    message.insert(bhttp::field::connection, "close");
  } else if (client_version < 11) {
    message.insert(bhttp::field::connection, "keep-alive");
  }
  std::uint64_t written = 0;
  const Flow flow =
      co_await stream_message(backend_reader_, backend_buffer_, response, s_.client, written, unchunk);
  s_.bytes.to_client += written;
  if (flow != Flow::done) {
    // The backend broke off or sent garbage after the header (too late for a 502), or the client left.
    if (flow != Flow::destination_failed) ++upstream_.stats_of(*s_.target).http_response_errors;
    drop_backend();
    co_return false;
  }
  must_linger_ = true;
  // Reusable only if this exchange ended exactly at a message boundary on both sides of the backend connection.
  const bool reusable = request_sent_whole && backend_keep_alive && response.is_done() && backend_buffer_.size() == 0;
  if (reusable) {
    checkout_.drained = backend_reader_.proven_empty();
    upstream_.give_back(std::move(s_.backend), *s_.target, pool::Reuse::reusable, checkout_);
    release_target();
    checkout_ = {};
  } else {
    drop_backend();
  }
  co_return !close_client;
}

boost::asio::awaitable<void> ClientSession::refuse(bhttp::status status) {
  bhttp::response<bhttp::string_body> answer{status, 11};
  answer.set(bhttp::field::server, kViaName);
  answer.set(bhttp::field::content_type, "text/plain");
  answer.keep_alive(false);
  answer.body() = std::string(bhttp::obsolete_reason(status)) + "\n";
  answer.prepare_payload();
  auto [ec, n] = co_await bhttp::async_write(s_.client, answer, use_tuple);
  s_.bytes.to_client += n;
  // The rest of the refused request may still be arriving: serve_client closes with linger_close.
  must_linger_ = !ec;
}

void ClientSession::hold_target(const balance::BackendPtr& backend) {
  s_.target = backend;
  active_ = &upstream_.stats_of(*backend).active;
  active_->add(1);
}

void ClientSession::release_target() {
  s_.target = nullptr;
  if (active_) active_->add(-1);
  active_ = nullptr;
}

void ClientSession::discard_connection() {
  if (s_.target) {
    upstream_.give_back(std::move(s_.backend), *s_.target, pool::Reuse::discard, checkout_);
  } else {
    boost::system::error_code ignored;
    s_.backend.close(ignored);
  }
  checkout_ = {};
  backend_buffer_.clear();
}

void ClientSession::drop_backend() {
  discard_connection();
  release_target();
}

}  // namespace

void begin_drain(SessionSockets sockets) {
  sockets.drain.requested = true;
  if (!sockets.drain.idle) return;
  // The session wakes from its read with nothing of a request received (or from its lingering close), and ends
  // as if the client had left.
  boost::system::error_code ignored;
  sockets.client.cancel(ignored);
}

boost::asio::awaitable<void> serve_client(SessionSockets sockets, Upstream& upstream, const SessionSettings& settings,
                                          relay::PipePool& pipes, admin::HttpRefusals& refusals) {
  bool linger = false;
  {
    ClientSession session(sockets, upstream, settings, pipes, refusals);
    linger = co_await session.run();
  }
  boost::system::error_code ignored;
  if (sockets.backend.is_open()) sockets.backend.close(ignored);  // not held through the linger
  // Closing sends the FIN (or, with unread bytes, the reset that the lingering close exists to avoid).
  if (linger && sockets.client.is_open()) co_await linger_close(sockets.client, sockets.drain);
  sockets.client.close(ignored);
}

}  // namespace poolgate::http

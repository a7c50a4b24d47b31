#include "poolgate/http/linger.hpp"

#include "poolgate/http/deadline.hpp"

#include "poolgate/relay/socket_reader.hpp"


#include <array>
#include <memory>

namespace poolgate::http {

boost::asio::awaitable<void> linger_close(boost::asio::ip::tcp::socket& client, DrainState& drain) {
  boost::system::error_code ignored;
  client.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  // A drain wants the worker empty now; a reset is the lesser harm than holding up the exit.
  if (drain.requested) co_return;
  auto deadline = std::make_shared<Deadline>(client);
  arm(deadline, kLingerTime);
  // Small: reads are many only for a client that sends much, and the frame lives as long as the linger.
  std::array<char, 4096> sink;
  std::size_t discarded = 0;
  // Read as the session read, not with Asio's async_read_some: the session's last wait cleared the reactor's
  // hint that the socket may hold bytes, so Asio would wait for a new edge with a refused header still queued.
  relay::DrainedWait drained(client.get_executor());
  relay::SocketReader reader(client, drained);
  drain.idle = true;  // nothing here is worth finishing: begin_drain may cancel the read
  while (discarded < kLingerBytes && !drain.requested) {
    auto [ec, n] = co_await reader.read_some(boost::asio::buffer(sink));
    discarded += n;
    if (ec) break;  // EOF (the client closed too: a clean close from here), reset, timer or drain
  }
  drain.idle = false;
  retire(*deadline);
}

}  // namespace poolgate::http

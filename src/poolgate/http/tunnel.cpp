#include "poolgate/http/tunnel.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <utility>

namespace poolgate::http {

boost::asio::awaitable<void> tunnel(boost::asio::ip::tcp::socket& client, boost::asio::ip::tcp::socket& backend,
                                    boost::beast::flat_buffer& from_client, boost::beast::flat_buffer& from_backend,
                                    relay::PipePool& pipes, relay::RelayTotals& bytes) {
  constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
  // Bytes that arrived behind the request (from the client) or behind the 101 header (from the backend) belong
  // to the new protocol: deliver them before the relay takes over.
  for (auto [buffer, to_backend] : {std::pair{&from_client, true}, std::pair{&from_backend, false}}) {
    if (buffer->size() == 0) continue;
    auto [ec, n] = co_await boost::asio::async_write(to_backend ? backend : client, buffer->data(), use_tuple);
    (to_backend ? bytes.to_backend : bytes.to_client) += n;
    buffer->consume(buffer->size());
    if (ec) co_return;
  }
  relay::RelayTotals tunnelled;
  co_await relay::relay(client, backend, pipes, tunnelled);
  bytes.to_backend += tunnelled.to_backend;
  bytes.to_client += tunnelled.to_client;
}

}  // namespace poolgate::http

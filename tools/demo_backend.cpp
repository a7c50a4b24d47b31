// A small backend for `make run` and for trying poolgate by hand. It answers an HTTP request with its own name
// (so `curl` shows which backend served it) and echoes anything else (so `nc` shows the relay both ways).
#include <boost/asio.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

using boost::asio::ip::tcp;
constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

boost::asio::awaitable<void> serve(tcp::socket socket, std::string name) {
  char data[16 * 1024];
  bool first = true;
  for (;;) {
    auto [read_error, n] = co_await socket.async_read_some(boost::asio::buffer(data), use_tuple);
    if (read_error) break;
    std::string_view received(data, n);
    if (first && (received.starts_with("GET ") || received.starts_with("HEAD "))) {
      const std::string body = "hello from " + name + "\n";
      const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                                   std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      co_await boost::asio::async_write(socket, boost::asio::buffer(response), use_tuple);
      break;
    }
    first = false;
    auto [write_error, written] = co_await boost::asio::async_write(socket, boost::asio::buffer(data, n), use_tuple);
    if (write_error) break;
  }
}

boost::asio::awaitable<void> listen(tcp::acceptor acceptor, std::string name) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec) continue;
    boost::asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), name), boost::asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s PORT NAME\n  echoes bytes; answers GET/HEAD with \"hello from NAME\"\n", argv[0]);
    return 2;
  }
  boost::asio::io_context context(1);
  tcp::acceptor acceptor(context, {boost::asio::ip::make_address("127.0.0.1"),
                                   static_cast<unsigned short>(std::atoi(argv[1]))});
  boost::asio::co_spawn(context, listen(std::move(acceptor), argv[2]), boost::asio::detached);
  context.run();
}

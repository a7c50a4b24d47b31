#include "poolgate/http/message_stream.hpp"

#include <boost/asio/write.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <memory>
#include <vector>

namespace poolgate::http::detail {

char* staging_area() {
  thread_local const std::unique_ptr<char[]> staging(new char[kStagingSize]);
  return staging.get();
}

boost::asio::awaitable<boost::system::error_code> send_staged(boost::asio::ip::tcp::socket& to, std::size_t size,
                                                              std::uint64_t& written) {
  const char* const staged = staging_area();
  ssize_t sent = ::send(to.native_handle(), staged, size, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      co_return boost::system::error_code(errno, boost::system::system_category());
    }
    sent = 0;
  }
  written += static_cast<std::uint64_t>(sent);
  if (static_cast<std::size_t>(sent) == size) co_return boost::system::error_code{};
  std::vector<char> rest(staged + sent, staged + size);
  auto [ec, n] = co_await boost::asio::async_write(to, boost::asio::buffer(rest),
                                                   boost::asio::as_tuple(boost::asio::use_awaitable));
  written += n;
  co_return ec;
}

}  // namespace poolgate::http::detail

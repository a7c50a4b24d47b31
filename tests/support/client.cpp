#include "support/client.hpp"

#include "support/socket.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace poolgate::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunkBytes = 64 * 1024;

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

}  // namespace

std::optional<Client> Client::try_connect(std::uint16_t port, std::chrono::milliseconds timeout) {
  UniqueFd fd{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (!fd) {
    throw std::system_error(errno, std::generic_category(), "socket");
  }
  const int enabled = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &enabled, sizeof enabled);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINPROGRESS) {
      return std::nullopt;
    }
    if (wait_for_events(fd.get(), POLLOUT, Clock::now() + timeout) == 0) {
      return std::nullopt;
    }
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      return std::nullopt;
    }
  }
  return Client{std::move(fd)};
}

Client Client::connect(std::uint16_t port, std::chrono::milliseconds timeout) {
  auto client = try_connect(port, timeout);
  if (!client) {
    throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  return std::move(*client);
}

bool Client::send_all(std::string_view data, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!data.empty()) {
    const ssize_t sent = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      data.remove_prefix(static_cast<std::size_t>(sent));
    } else if (sent < 0 && !would_block(errno)) {
      return false;
    } else if (wait_for_events(fd_.get(), POLLOUT, deadline) == 0) {
      return false;
    }
  }
  return true;
}

Client::ReadResult Client::read_some(Clock::time_point deadline) {
  while (true) {
    char buffer[kReadChunkBytes];
    const ssize_t received = ::recv(fd_.get(), buffer, sizeof buffer, 0);
    if (received > 0) {
      inbox_.append(buffer, static_cast<std::size_t>(received));
      return ReadResult::data;
    }
    if (received == 0) {
      return ReadResult::eof;
    }
    if (!would_block(errno)) {
      return ReadResult::reset;
    }
    if (wait_for_events(fd_.get(), POLLIN, deadline) == 0) {
      return ReadResult::timeout;
    }
  }
}

std::optional<std::string> Client::recv_exact(std::size_t size, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (inbox_.size() < size) {
    if (read_some(deadline) != ReadResult::data) {
      return std::nullopt;
    }
  }
  std::string result = inbox_.substr(0, size);
  inbox_.erase(0, size);
  return result;
}

std::uint16_t Client::local_port() const { return test::local_port(fd_.get()); }

std::optional<std::string> Client::recv_line(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::size_t newline;
  while ((newline = inbox_.find('\n')) == std::string::npos) {
    if (read_some(deadline) != ReadResult::data) {
      return std::nullopt;
    }
  }
  std::string line = inbox_.substr(0, newline + 1);
  inbox_.erase(0, newline + 1);
  return line;
}

std::optional<std::string> Client::recv_until_eof(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    switch (read_some(deadline)) {
      case ReadResult::data:
        continue;
      case ReadResult::eof:
        return std::exchange(inbox_, {});
      case ReadResult::reset:
      case ReadResult::timeout:
        return std::nullopt;
    }
  }
}

void Client::shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }

std::optional<std::string> Client::echo(std::string_view payload, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  if (!send_all(payload, timeout)) {
    return std::nullopt;
  }
  const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return recv_exact(payload.size(), std::max(remaining, std::chrono::milliseconds{0}));
}

std::optional<std::string> Client::round_trip_with_half_close(std::string_view payload,
                                                              std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  bool write_side_open = true;
  while (true) {
    if (write_side_open && payload.empty()) {
      shutdown_write();
      write_side_open = false;
    }
    const short wanted = write_side_open ? POLLIN | POLLOUT : POLLIN;
    const short ready = wait_for_events(fd_.get(), wanted, deadline);
    if (ready == 0) {
      return std::nullopt;
    }
    if (write_side_open && (ready & POLLOUT) != 0) {
      const ssize_t sent = ::send(fd_.get(), payload.data(), payload.size(), MSG_NOSIGNAL);
      if (sent > 0) {
        payload.remove_prefix(static_cast<std::size_t>(sent));
      } else if (sent < 0 && !would_block(errno)) {
        return std::nullopt;
      }
    }
    if ((ready & (POLLIN | POLLHUP | POLLERR)) != 0) {
      switch (read_some(deadline)) {
        case ReadResult::data:
          break;
        case ReadResult::eof:
          // EOF before we finished sending would mean the relay dropped our data.
          return write_side_open ? std::nullopt : std::optional{std::exchange(inbox_, {})};
        case ReadResult::reset:
        case ReadResult::timeout:
          return std::nullopt;
      }
    }
  }
}

PeerClose Client::wait_for_peer_close(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    switch (read_some(deadline)) {
      case ReadResult::data:
        inbox_.clear();
        continue;
      case ReadResult::eof:
        return PeerClose::eof;
      case ReadResult::reset:
        return PeerClose::reset;
      case ReadResult::timeout:
        return PeerClose::still_open;
    }
  }
}

PeerClose Client::closed_yet() {
  if (!inbox_.empty()) {
    return PeerClose::still_open;
  }
  char byte = 0;
  const ssize_t peeked = ::recv(fd_.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (peeked == 0) {
    return PeerClose::eof;
  }
  if (peeked < 0 && !would_block(errno)) {
    return PeerClose::reset;
  }
  return PeerClose::still_open;
}

void Client::abort() { close_with_reset(fd_); }

}  // namespace poolgate::test

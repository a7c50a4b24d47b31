#include "faults/support/load_servers.hpp"

#include "faults/support/pattern.hpp"
#include "support/socket.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <string>
#include <system_error>

namespace poolgate::test {
namespace {

constexpr std::size_t kChunk = 64 * 1024;
// An echo peer that does not read its echo gets no more bytes read from it past this much (TCP pushes back).
constexpr std::size_t kMaxUnsent = 1 << 20;

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

UniqueFd listen_on(std::uint16_t port, int backlog) {
  UniqueFd fd{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (!fd) fail("socket");
  const int enabled = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &enabled, sizeof enabled);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) fail("bind");
  if (::listen(fd.get(), backlog) != 0) fail("listen");
  return fd;
}

UniqueFd make_event() {
  UniqueFd fd{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
  if (!fd) fail("eventfd");
  return fd;
}

void signal_event(const UniqueFd& event) {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto ignored = ::write(event.get(), &one, sizeof one);
}

// A non-blocking connect to 127.0.0.1:port: true if it completes within `timeout`. `fd` gets the socket.
bool connect_within(std::uint16_t port, std::chrono::milliseconds timeout, UniqueFd& fd) {
  fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) fail("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) return true;
  if (errno != EINPROGRESS) return false;
  if (wait_for_events(fd.get(), POLLOUT, std::chrono::steady_clock::now() + timeout) == 0) return false;
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
  return error == 0;
}

}  // namespace

struct LoadEchoServer::Connection {
  UniqueFd fd;
  std::string unsent;
  bool peer_finished = false;
  std::uint32_t interest = 0;
};

LoadEchoServer::LoadEchoServer(std::uint16_t port)
    : listener_(listen_on(port, SOMAXCONN)), epoll_(::epoll_create1(EPOLL_CLOEXEC)), stop_event_(make_event()) {
  if (!epoll_) fail("epoll_create1");
  port_ = local_port(listener_.get());
  epoll_event listen_event{.events = EPOLLIN, .data = {.ptr = nullptr}};
  epoll_event stop{.events = EPOLLIN, .data = {.ptr = &stop_event_}};
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_.get(), &listen_event);
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, stop_event_.get(), &stop);
  thread_ = std::thread([this] { run(); });
}

LoadEchoServer::~LoadEchoServer() {
  signal_event(stop_event_);
  thread_.join();
}

void LoadEchoServer::accept_all() {
  while (true) {
    UniqueFd fd{::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)};
    if (!fd) {
      if (errno == ECONNABORTED || errno == EINTR) continue;
      return;  // EAGAIN, or out of descriptors: the next readiness retries
    }
    const int enabled = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &enabled, sizeof enabled);
    auto connection = std::make_unique<Connection>();
    connection->fd = std::move(fd);
    connection->interest = EPOLLIN;
    epoll_event event{.events = EPOLLIN, .data = {.ptr = connection.get()}};
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, connection->fd.get(), &event);
    Connection* key = connection.get();
    connections_.emplace(key, std::move(connection));
    ++accepted_;
    ++open_;
  }
}

void LoadEchoServer::update_interest(Connection& connection) {
  std::uint32_t wanted = 0;
  if (!connection.peer_finished && connection.unsent.size() < kMaxUnsent) wanted |= EPOLLIN;
  if (!connection.unsent.empty()) wanted |= EPOLLOUT;
  if (wanted == connection.interest) return;
  connection.interest = wanted;
  epoll_event event{.events = wanted, .data = {.ptr = &connection}};
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, connection.fd.get(), &event);
}

void LoadEchoServer::close_connection(Connection& connection) {
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, connection.fd.get(), nullptr);
  connection.fd.reset();
  --open_;
  // Freed after this round of events, which may still hold its pointer.
  graveyard_.push_back(std::move(connections_.at(&connection)));
  connections_.erase(&connection);
}

void LoadEchoServer::service(Connection& connection, std::uint32_t events) {
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 && !connection.peer_finished) {
    char buffer[kChunk];
    const ssize_t received = ::recv(connection.fd.get(), buffer, sizeof buffer, 0);
    if (received > 0) {
      connection.unsent.append(buffer, static_cast<std::size_t>(received));
    } else if (received == 0) {
      connection.peer_finished = true;
    } else if (!would_block(errno)) {
      if (errno == ECONNRESET) ++resets_;
      close_connection(connection);
      return;
    }
  }
  if (!connection.unsent.empty()) {
    const ssize_t sent = ::send(connection.fd.get(), connection.unsent.data(), connection.unsent.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      connection.unsent.erase(0, static_cast<std::size_t>(sent));
    } else if (sent < 0 && !would_block(errno)) {
      if (errno == ECONNRESET || errno == EPIPE) ++resets_;
      close_connection(connection);
      return;
    }
  }
  if (connection.peer_finished && connection.unsent.empty()) {
    close_connection(connection);
    return;
  }
  update_interest(connection);
}

void LoadEchoServer::run() {
  std::vector<epoll_event> events(1024);
  bool stopping = false;
  while (!stopping) {
    const int ready = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      fail("epoll_wait");
    }
    for (int i = 0; i < ready; ++i) {
      void* tag = events[static_cast<std::size_t>(i)].data.ptr;
      if (tag == &stop_event_) {
        stopping = true;
      } else if (tag == nullptr) {
        accept_all();
      } else {
        auto* connection = static_cast<Connection*>(tag);
        if (connection->fd) service(*connection, events[static_cast<std::size_t>(i)].events);
      }
    }
    graveyard_.clear();
  }
  // Whatever is still open closes with the server, like a killed backend.
  for (auto& [raw, connection] : connections_) {
    if (connection->fd) --open_;
  }
  connections_.clear();
}

StreamServer::StreamServer(std::uint64_t seed, std::uint64_t bytes_each)
    : seed_(seed), bytes_each_(bytes_each), listener_(listen_on(0, SOMAXCONN)), stop_event_(make_event()) {
  port_ = local_port(listener_.get());
  thread_ = std::thread([this] { run(); });
}

StreamServer::~StreamServer() {
  signal_event(stop_event_);
  thread_.join();
}

void StreamServer::run() {
  struct Stream {
    UniqueFd fd;
    std::uint64_t offset = 0;
  };
  std::vector<Stream> streams;
  std::vector<pollfd> polled;
  char chunk[kChunk];
  while (true) {
    polled.clear();
    polled.push_back({stop_event_.get(), POLLIN, 0});
    polled.push_back({listener_.get(), POLLIN, 0});
    for (const Stream& stream : streams) polled.push_back({stream.fd.get(), POLLOUT, 0});
    if (::poll(polled.data(), polled.size(), -1) < 0) {
      if (errno == EINTR) continue;
      fail("poll");
    }
    if (polled[0].revents != 0) return;
    for (std::size_t i = 0; i < streams.size(); ++i) {
      Stream& stream = streams[i];
      if (polled[i + 2].revents == 0) continue;
      // Fill the socket until it pushes back: the peer's pace, not ours, decides how fast the stream goes.
      while (stream.fd && stream.offset < bytes_each_) {
        const std::size_t size = std::min<std::uint64_t>(kChunk, bytes_each_ - stream.offset);
        fill_pattern(seed_, stream.offset, chunk, size);
        const ssize_t sent = ::send(stream.fd.get(), chunk, size, MSG_NOSIGNAL);
        if (sent > 0) {
          stream.offset += static_cast<std::uint64_t>(sent);
          sent_ += static_cast<std::uint64_t>(sent);
        } else if (sent < 0 && would_block(errno)) {
          break;
        } else {
          stream.fd.reset();
        }
      }
      if (stream.fd && stream.offset == bytes_each_) {
        stream.fd.reset();
        ++finished_;
      }
    }
    std::erase_if(streams, [](const Stream& stream) { return !stream.fd; });
    if ((polled[1].revents & POLLIN) != 0) {
      while (true) {
        UniqueFd fd{::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)};
        if (!fd) break;
        streams.push_back({std::move(fd), 0});
      }
    }
  }
}

SilentListener::SilentListener() : listener_(listen_on(0, 0)) {
  port_ = local_port(listener_.get());
  // Backlog 0 still lets one connection (sometimes a few, depending on the kernel) into the accept queue.
  // Connect until one hangs: from then on the queue is full and every SYN is dropped.
  constexpr int kMostAttempts = 16;
  for (int attempt = 0; attempt < kMostAttempts; ++attempt) {
    UniqueFd fd;
    if (!connect_within(port_, std::chrono::milliseconds(200), fd)) {
      // Confirm with a second, fresh connect: the first may have lost a race with the queue filling.
      UniqueFd confirm;
      if (!connect_within(port_, std::chrono::milliseconds(300), confirm)) return;
    } else {
      queued_.push_back(std::move(fd));
    }
  }
  throw std::runtime_error("SilentListener: the accept queue never filled; connects keep succeeding");
}

void SilentListener::make_room_for_one() {
  UniqueFd accepted(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!accepted) fail("accept4");
  queued_.push_back(std::move(accepted));
}

}  // namespace poolgate::test

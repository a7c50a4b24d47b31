#include "support/servers.hpp"

#include "support/socket.hpp"
#include "support/wait.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <future>
#include <system_error>

namespace poolgate::test {
namespace {

// Stop reading from a peer that does not read its echo, so memory stays bounded (and TCP pushes back).
constexpr std::size_t kMaxUnsentBytes = 1 << 20;
constexpr std::size_t kReadChunkBytes = 64 * 1024;

std::atomic<std::uint64_t> next_banner_id{1};

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

}  // namespace

struct LoopbackServer::Connection {
  UniqueFd fd;
  std::string unsent;          // greeting and echoed bytes not yet written back
  bool received_any = false;   // false while the connection sits unused, e.g. in poolgate's pool
  bool peer_finished = false;  // the peer shut down its write side
  bool closed = false;

  // What to wait for: more bytes unless the peer finished sending or we are backed up, and writability while
  // echo bytes are waiting.
  [[nodiscard]] short events_wanted() const {
    short events = 0;
    if (!peer_finished && unsent.size() < kMaxUnsentBytes) {
      events |= POLLIN;
    }
    if (!unsent.empty()) {
      events |= POLLOUT;
    }
    return events;
  }
};

LoopbackServer::LoopbackServer(ServerOptions options)
    : options_(std::move(options)),
      listener_(listen_on_loopback()),
      wakeup_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      port_(local_port(listener_.get())) {
  if (!wakeup_) {
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  thread_ = std::thread([this] { run(); });
}

LoopbackServer::~LoopbackServer() { stop(); }

std::string LoopbackServer::address() const { return "127.0.0.1:" + std::to_string(port_); }

void LoopbackServer::close_listener() {
  run_in_loop([this] { listener_.reset(); });
}

void LoopbackServer::reset_connections() {
  run_in_loop([this] {
    for (auto& connection : connections_) {
      if (!connection->closed) {
        close_with_reset(connection->fd);
        close_connection(*connection);
      }
    }
  });
}

void LoopbackServer::stop() {
  if (!thread_.joinable()) {
    return;
  }
  run_in_loop([this] {
    listener_.reset();
    for (auto& connection : connections_) {
      if (!connection->closed) {
        close_connection(*connection);
      }
    }
    stopping_ = true;
  });
  thread_.join();
}

// Runs `command` on the loop thread (which owns all sockets) and waits until it has run.
void LoopbackServer::run_in_loop(std::function<void()> command) {
  if (!thread_.joinable()) {
    return;  // already stopped: nothing left to act on
  }
  std::promise<void> done;
  auto finished = done.get_future();
  {
    std::lock_guard lock(commands_mutex_);
    commands_.emplace_back([&] {
      command();
      done.set_value();
    });
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto ignored = ::write(wakeup_.get(), &one, sizeof one);
  finished.wait();
}

void LoopbackServer::run_pending_commands() {
  std::uint64_t count = 0;
  [[maybe_unused]] const auto ignored = ::read(wakeup_.get(), &count, sizeof count);
  std::vector<std::function<void()>> commands;
  {
    std::lock_guard lock(commands_mutex_);
    commands.swap(commands_);
  }
  for (auto& command : commands) {
    command();
  }
}

void LoopbackServer::accept_new_connections() {
  while (listener_) {
    UniqueFd fd{::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)};
    if (!fd) {
      if (errno == ECONNABORTED || errno == EINTR) {
        continue;
      }
      return;  // EAGAIN: backlog drained (or out of fds: retry on the next poll)
    }
    const int enabled = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &enabled, sizeof enabled);
    auto connection = std::make_unique<Connection>();
    connection->fd = std::move(fd);
    const std::size_t number = accepted_.fetch_add(1) + 1;
    if (options_.greeting) {
      connection->unsent = options_.greeting(number);
    }
    ++open_;
    connections_.push_back(std::move(connection));
  }
}

void LoopbackServer::sweep_unused_connections() {
  for (auto& connection : connections_) {
    if (!connection->closed && !connection->received_any) {
      close_connection(*connection);
      ++closed_unused_;
    }
  }
  ++sweeps_;
}

void LoopbackServer::close_connection(Connection& connection) {
  connection.fd.reset();
  connection.closed = true;
  --open_;
}

void LoopbackServer::close_after_error(Connection& connection, int error) {
  if (error == ECONNRESET) {
    ++resets_seen_;
  }
  close_connection(connection);
}

void LoopbackServer::service(Connection& connection, short revents) {
  if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !connection.peer_finished) {
    char buffer[kReadChunkBytes];
    const ssize_t received = ::recv(connection.fd.get(), buffer, sizeof buffer, 0);
    if (received > 0) {
      connection.received_any = true;
      connection.unsent.append(buffer, static_cast<std::size_t>(received));
    } else if (received == 0) {
      connection.peer_finished = true;
    } else if (!would_block(errno)) {
      close_after_error(connection, errno);
      return;
    }
  }
  if (!connection.unsent.empty() && (revents & (POLLOUT | POLLHUP | POLLERR)) != 0) {
    const ssize_t sent = ::send(connection.fd.get(), connection.unsent.data(), connection.unsent.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      connection.unsent.erase(0, static_cast<std::size_t>(sent));
    } else if (sent < 0 && !would_block(errno)) {
      close_after_error(connection, errno);
      return;
    }
  }
  // Half-close: the peer is done sending and everything has been echoed, so finish our side too.
  if (connection.peer_finished && connection.unsent.empty()) {
    close_connection(connection);
  }
}

void LoopbackServer::run() {
  using Clock = std::chrono::steady_clock;
  const bool sweeping = options_.close_unused_every.count() > 0;
  auto next_sweep = Clock::now() + options_.close_unused_every;
  std::vector<pollfd> polled;

  while (!stopping_) {
    // Layout: [wakeup] [listener, while open] [one entry per connection, in connections_ order].
    polled.clear();
    polled.push_back({wakeup_.get(), POLLIN, 0});
    const bool listening = static_cast<bool>(listener_);
    if (listening) {
      polled.push_back({listener_.get(), POLLIN, 0});
    }
    const std::size_t first_connection = polled.size();
    const std::size_t polled_connections = connections_.size();
    for (const auto& connection : connections_) {
      polled.push_back({connection->fd.get(), connection->events_wanted(), 0});
    }

    int timeout_ms = -1;
    if (sweeping) {
      const auto until_sweep = std::chrono::ceil<std::chrono::milliseconds>(next_sweep - Clock::now());
      timeout_ms = static_cast<int>(std::max<std::int64_t>(0, until_sweep.count()));
    }
    if (::poll(polled.data(), polled.size(), timeout_ms) < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw std::system_error(errno, std::generic_category(), "poll");
    }

    if (polled[0].revents != 0) {
      run_pending_commands();  // may close sockets: those are skipped below via `closed` and `listener_`
    }
    if (sweeping && Clock::now() >= next_sweep) {
      sweep_unused_connections();
      next_sweep = Clock::now() + options_.close_unused_every;
    }
    if (listening && listener_ && (polled[1].revents & POLLIN) != 0) {
      accept_new_connections();  // appends after the polled connections, which keeps indices valid
    }
    for (std::size_t i = 0; i < polled_connections; ++i) {
      Connection& connection = *connections_[i];
      const short revents = polled[first_connection + i].revents;
      if (!connection.closed && revents != 0) {
        service(connection, revents);
      }
    }
    std::erase_if(connections_, [](const auto& connection) { return connection->closed; });
  }
}

std::unique_ptr<LoopbackServer> start_echo_server() { return std::make_unique<LoopbackServer>(); }

std::unique_ptr<LoopbackServer> start_banner_echo_server() {
  return std::make_unique<LoopbackServer>(ServerOptions{
      .greeting = [](std::uint64_t) { return "banner-" + std::to_string(next_banner_id.fetch_add(1)) + "\n"; },
  });
}

std::unique_ptr<LoopbackServer> start_tagged_echo_server(std::string name) {
  return std::make_unique<LoopbackServer>(ServerOptions{
      .greeting = [name = std::move(name)](std::uint64_t) { return name + "\n"; },
  });
}

std::unique_ptr<LoopbackServer> start_unused_closing_echo_server(std::chrono::milliseconds period) {
  ServerOptions options;
  options.close_unused_every = period;
  return std::make_unique<LoopbackServer>(std::move(options));
}

bool LoopbackServer::wait_for_next_sweep(std::chrono::milliseconds timeout) const {
  const std::size_t sweeps = sweep_count();
  return wait_until([&] { return sweep_count() > sweeps; }, timeout);
}

}  // namespace poolgate::test

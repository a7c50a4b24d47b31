#include "faults/support/load_client.hpp"

#include "faults/support/pattern.hpp"
#include "support/fd.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace poolgate::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kFailuresKept = 5;

enum class Stage { waiting, connecting, exchanging, echoed, closing, done, failed };

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::waiting: return "waiting to connect";
    case Stage::connecting: return "connecting";
    case Stage::exchanging: return "exchanging";
    case Stage::echoed: return "echoed, waiting for the others";
    case Stage::closing: return "half-closed, waiting for EOF";
    case Stage::done: return "done";
    case Stage::failed: return "failed";
  }
  return "?";
}

struct Connection {
  UniqueFd fd;
  std::uint64_t seed = 0;
  std::size_t sent = 0;
  std::size_t received = 0;
  Stage stage = Stage::waiting;
};

class Wave {
 public:
  Wave(std::uint16_t port, const WavePlan& plan) : port_(port), plan_(plan), connections_(plan.connections) {
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    for (std::size_t i = 0; i < connections_.size(); ++i) connections_[i].seed = plan.seed * 1'000'003 + i;
  }

  WaveResult run() {
    const auto started = Clock::now();
    const auto deadline = started + plan_.timeout;
    std::vector<epoll_event> events(1024);
    bool peak_reached = false;
    while (finished_ < connections_.size() && Clock::now() < deadline) {
      start_connects();
      if (!peak_reached && next_ == connections_.size() && echoed_or_failed_ == connections_.size()) {
        peak_reached = true;
        if (plan_.at_peak) plan_.at_peak();
        half_close_all();
        continue;
      }
      const int ready = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), 100);
      if (ready < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "epoll_wait");
      for (int i = 0; i < ready; ++i) {
        const auto& event = events[static_cast<std::size_t>(i)];
        service(connections_[event.data.u64], event.events);
      }
    }
    for (Connection& connection : connections_) {
      if (connection.stage != Stage::done && connection.stage != Stage::failed) {
        fail(connection, std::string("timed out while ") + stage_name(connection.stage));
      }
    }
    result_.failed = connections_.size() - result_.exact;
    result_.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    return result_;
  }

 private:
  void start_connects() {
    while (next_ < connections_.size() && connecting_ < plan_.connecting_at_once) {
      const std::size_t index = next_++;
      Connection& connection = connections_[index];
      connection.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (!connection.fd) {
        fail(connection, std::string("socket: ") + std::strerror(errno));
        continue;
      }
      const int enabled = 1;
      ::setsockopt(connection.fd.get(), IPPROTO_TCP, TCP_NODELAY, &enabled, sizeof enabled);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(port_);
      if (::connect(connection.fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 &&
          errno != EINPROGRESS) {
        fail(connection, std::string("connect: ") + std::strerror(errno));
        continue;
      }
      connection.stage = Stage::connecting;
      ++connecting_;
      epoll_event event{.events = EPOLLOUT | EPOLLIN, .data = {.u64 = index}};
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, connection.fd.get(), &event);
    }
  }

  void watch(Connection& connection, std::uint32_t events) {
    epoll_event event{.events = events, .data = {.u64 = static_cast<std::uint64_t>(&connection - connections_.data())}};
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, connection.fd.get(), &event);
  }

  void fail(Connection& connection, std::string reason) {
    if (connection.stage == Stage::connecting) --connecting_;
    if (connection.stage != Stage::echoed && connection.stage != Stage::closing) ++echoed_or_failed_;
    connection.stage = Stage::failed;
    connection.fd.reset();
    ++finished_;
    if (result_.failures.size() < kFailuresKept) {
      result_.failures.push_back("connection " + std::to_string(&connection - connections_.data()) + ": " + reason);
    }
  }

  void half_close_all() {
    for (Connection& connection : connections_) {
      if (connection.stage != Stage::echoed) continue;
      ::shutdown(connection.fd.get(), SHUT_WR);
      connection.stage = Stage::closing;
    }
  }

  void service(Connection& connection, std::uint32_t events) {
    if (connection.stage == Stage::connecting) {
      int error = 0;
      socklen_t length = sizeof error;
      ::getsockopt(connection.fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) {
        fail(connection, std::string("connect: ") + std::strerror(error));
        return;
      }
      if ((events & EPOLLOUT) == 0) return;
      --connecting_;
      ++result_.connected;
      connection.stage = Stage::exchanging;
    }
    if (connection.stage == Stage::exchanging && (events & EPOLLOUT) != 0) send_some(connection);
    if (connection.stage == Stage::failed || (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) == 0) return;
    receive_some(connection);
  }

  void send_some(Connection& connection) {
    char chunk[kChunk];
    while (connection.sent < plan_.bytes_each) {
      const std::size_t size = std::min(kChunk, plan_.bytes_each - connection.sent);
      fill_pattern(connection.seed, connection.sent, chunk, size);
      const ssize_t sent = ::send(connection.fd.get(), chunk, size, MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        fail(connection, std::string("send: ") + std::strerror(errno));
        return;
      }
      connection.sent += static_cast<std::size_t>(sent);
      result_.bytes_sent += static_cast<std::uint64_t>(sent);
    }
    watch(connection, EPOLLIN);  // everything sent: only the echo is awaited now
  }

  void receive_some(Connection& connection) {
    char chunk[kChunk];
    const ssize_t received = ::recv(connection.fd.get(), chunk, sizeof chunk, 0);
    if (received < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      fail(connection, std::string("recv while ") + stage_name(connection.stage) + ": " + std::strerror(errno));
      return;
    }
    if (received == 0) {
      if (connection.stage == Stage::closing) {
        connection.stage = Stage::done;
        connection.fd.reset();
        ++finished_;
        ++result_.exact;
      } else {
        fail(connection, std::string("EOF while ") + stage_name(connection.stage) + " after " +
                             std::to_string(connection.received) + " bytes");
      }
      return;
    }
    const auto size = static_cast<std::size_t>(received);
    result_.bytes_received += size;
    if (connection.stage != Stage::exchanging || connection.received + size > plan_.bytes_each) {
      fail(connection, "more bytes than were sent");
      return;
    }
    if (!matches_pattern(connection.seed, connection.received, chunk, size)) {
      fail(connection, "bytes at offset " + std::to_string(connection.received) + " are not its own");
      return;
    }
    connection.received += size;
    if (connection.received == plan_.bytes_each) {
      connection.stage = Stage::echoed;
      ++result_.echoed;
      ++echoed_or_failed_;
    }
  }

  std::uint16_t port_;
  const WavePlan& plan_;
  std::vector<Connection> connections_;
  UniqueFd epoll_;
  std::size_t next_ = 0;
  std::size_t connecting_ = 0;
  std::size_t echoed_or_failed_ = 0;
  std::size_t finished_ = 0;
  WaveResult result_;
};

}  // namespace

WaveResult run_echo_wave(std::uint16_t port, const WavePlan& plan) { return Wave(port, plan).run(); }

std::string describe(const WaveResult& result) {
  std::string text = "connected " + std::to_string(result.connected) + ", echoed " + std::to_string(result.echoed) +
                     ", exact " + std::to_string(result.exact) + ", failed " + std::to_string(result.failed) +
                     ", sent " + std::to_string(result.bytes_sent) + " B, received " +
                     std::to_string(result.bytes_received) + " B in " + std::to_string(result.elapsed.count()) +
                     " ms";
  for (const std::string& failure : result.failures) text += "\n  " + failure;
  return text;
}

}  // namespace poolgate::test

// A blocking loopback TCP client with a deadline on every operation, for talking to poolgate like a real client.
#pragma once

#include "support/fd.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace poolgate::test {

using namespace std::chrono_literals;

// Generous default so a sanitizer build on a busy 2-core VM does not fail a healthy exchange.
inline constexpr std::chrono::milliseconds kIoTimeout = 5s;

enum class PeerClose { still_open, eof, reset };

class Client {
 public:
  // Connects to 127.0.0.1:port; throws if that fails within `timeout`.
  static Client connect(std::uint16_t port, std::chrono::milliseconds timeout = kIoTimeout);
  // Like connect, but a refused or timed-out connect is an expected outcome, not an error.
  static std::optional<Client> try_connect(std::uint16_t port, std::chrono::milliseconds timeout = kIoTimeout);

  // The client's own port (its end of the connection).
  std::uint16_t local_port() const;

  bool send_all(std::string_view data, std::chrono::milliseconds timeout = kIoTimeout);
  // Exactly `size` bytes, or nullopt if the peer closed or the deadline passed first.
  std::optional<std::string> recv_exact(std::size_t size, std::chrono::milliseconds timeout = kIoTimeout);
  // One line including its '\n' (a backend banner or tag); nullopt on close or timeout.
  std::optional<std::string> recv_line(std::chrono::milliseconds timeout = kIoTimeout);
  // Everything up to the peer's EOF; nullopt on reset or timeout.
  std::optional<std::string> recv_until_eof(std::chrono::milliseconds timeout = kIoTimeout);
  void shutdown_write();

  // Sends `payload` and reads the same number of bytes back.
  std::optional<std::string> echo(std::string_view payload, std::chrono::milliseconds timeout = kIoTimeout);
  // Sends `payload` while reading (so large payloads cannot deadlock on full buffers), shuts down the write
  // side after the last byte, and returns everything received up to EOF; nullopt on reset or timeout.
  std::optional<std::string> round_trip_with_half_close(std::string_view payload,
                                                        std::chrono::milliseconds timeout = kIoTimeout);

  // Waits for the peer to close (EOF or reset), discarding any bytes that arrive meanwhile.
  PeerClose wait_for_peer_close(std::chrono::milliseconds timeout);
  bool is_closed_by_peer(std::chrono::milliseconds timeout) {
    return wait_for_peer_close(timeout) != PeerClose::still_open;
  }
  // Whether the peer has closed, without waiting and without consuming any byte that arrived before the close
  // (still_open while unread bytes are pending).
  PeerClose closed_yet();

  // Closes with a TCP reset instead of a FIN.
  void abort();

 private:
  explicit Client(UniqueFd fd) : fd_(std::move(fd)) {}

  // Reads once (after waiting until `deadline`) into inbox_; false on EOF, reset or timeout.
  enum class ReadResult { data, eof, reset, timeout };
  ReadResult read_some(std::chrono::steady_clock::time_point deadline);

  UniqueFd fd_;
  std::string inbox_;  // bytes received but not yet returned (e.g. the echo after a banner line)
};

}  // namespace poolgate::test

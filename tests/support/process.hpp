// Runs the poolgate binary as a child process, its stdout and stderr captured in a log file, and observes it:
// log lines, the port it listens on, signals, exit status.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace poolgate::test {

using namespace std::chrono_literals;

class PoolgateProcess {
 public:
  // Starts `binary args...` with stdout and stderr appended to `log_file`; throws if it cannot be started.
  // `extra_env` ("NAME=value" each) is added to the test's own environment for the child.
  PoolgateProcess(const std::filesystem::path& binary, const std::vector<std::string>& args,
                  std::filesystem::path log_file, const std::vector<std::string>& extra_env = {});
  // Kills (SIGKILL) and reaps the process if it is still running.
  ~PoolgateProcess();
  PoolgateProcess(const PoolgateProcess&) = delete;
  PoolgateProcess& operator=(const PoolgateProcess&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] const std::filesystem::path& log_file() const noexcept { return log_file_; }
  [[nodiscard]] std::string log_text() const;
  [[nodiscard]] std::size_t count_log_lines(const std::regex& pattern) const;

  // Polls the log until a line matches `pattern`. False on timeout, or as soon as the process has exited
  // without having written such a line.
  bool wait_for_log(const std::regex& pattern, std::chrono::milliseconds timeout);

  // The port from poolgate's single "listening on 127.0.0.1:PORT" (or "[::]:PORT") line, once it is logged.
  std::optional<std::uint16_t> listen_port(std::chrono::milliseconds timeout = 10s);

  // The port from poolgate's "admin listening on 127.0.0.1:PORT" line, once it is logged.
  std::optional<std::uint16_t> admin_port(std::chrono::milliseconds timeout = 10s);

  void send_signal(int signal_number);

  // Waits for the process to end: its exit code, or 128 + signal number if a signal killed it (the shell's
  // convention); nullopt if it is still running at the deadline.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  [[nodiscard]] bool running();

  // SIGTERM (the way systemd stops poolgate) unless it has already ended, then wait_exit(timeout).
  std::optional<int> stop(std::chrono::milliseconds timeout);

 private:
  // The first capture group of the first log line matching `line_with_port`, once such a line is logged.
  std::optional<std::uint16_t> port_from_log(const std::regex& line_with_port, std::chrono::milliseconds timeout);
  // Reaps the child if it has ended (without blocking); true once it has been reaped.
  bool try_reap();

  pid_t pid_ = -1;
  std::filesystem::path log_file_;
  std::optional<int> exit_status_;
};

// True for an exit status that only a crash or a sanitizer report produces: a fatal signal (SIGSEGV, SIGABRT
// from abort_on_error, ...) or ThreadSanitizer's exit status 66 (`make test-tsan` sets halt_on_error=1).
bool crashed_or_sanitizer_report(int exit_status);

// `text` with every regex metacharacter escaped, to match a literal (e.g. a file path) inside a pattern.
std::string regex_escape(std::string_view text);

}  // namespace poolgate::test

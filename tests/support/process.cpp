#include "support/process.hpp"

#include "support/fd.hpp"
#include "support/wait.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <fstream>
#include <sstream>
#include <system_error>

namespace poolgate::test {
namespace {

// Runs in the forked child of a multi-threaded parent: only async-signal-safe calls until execv.
[[noreturn]] void exec_child(const char* binary, char* const* argv, char* const* envp, int log_fd) {
  ::dup2(log_fd, STDOUT_FILENO);
  ::dup2(log_fd, STDERR_FILENO);
  const int dev_null = ::open("/dev/null", O_RDONLY);
  ::dup2(dev_null, STDIN_FILENO);
  // Inherited sockets (test clients, backends) would keep connections open behind the test's back.
  ::close_range(3, UINT_MAX, 0);
  // Never outlive the test process, even if it crashes before the destructor runs.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (const int signal_number : {SIGHUP, SIGINT, SIGTERM, SIGPIPE}) {
    ::sigaction(signal_number, &default_action, nullptr);
  }
  ::execve(binary, argv, envp);
  _exit(127);
}

}  // namespace

PoolgateProcess::PoolgateProcess(const std::filesystem::path& binary, const std::vector<std::string>& args,
                                 std::filesystem::path log_file, const std::vector<std::string>& extra_env)
    : log_file_(std::move(log_file)) {
  // Everything the child needs is prepared before fork: it must not allocate afterwards.
  const std::string binary_path = binary.string();
  std::vector<std::string> arguments{binary_path};
  arguments.insert(arguments.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& argument : arguments) {
    argv.push_back(argument.data());
  }
  argv.push_back(nullptr);
  // The test's environment, less the variables `extra_env` sets (getenv would find the inherited one first).
  auto overridden = [&](std::string_view variable) {
    const std::string_view name = variable.substr(0, variable.find('='));
    for (const auto& extra : extra_env) {
      if (std::string_view(extra).substr(0, extra.find('=')) == name) {
        return true;
      }
    }
    return false;
  };
  std::vector<std::string> environment;
  for (char** variable = environ; *variable != nullptr; ++variable) {
    if (!overridden(*variable)) {
      environment.emplace_back(*variable);
    }
  }
  environment.insert(environment.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (auto& variable : environment) {
    envp.push_back(variable.data());
  }
  envp.push_back(nullptr);

  const UniqueFd log_fd{::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)};
  if (!log_fd) {
    throw std::system_error(errno, std::generic_category(), "open " + log_file_.string());
  }
  pid_ = ::fork();
  if (pid_ < 0) {
    throw std::system_error(errno, std::generic_category(), "fork");
  }
  if (pid_ == 0) {
    exec_child(binary_path.c_str(), argv.data(), envp.data(), log_fd.get());
  }
}

PoolgateProcess::~PoolgateProcess() {
  if (!exit_status_) {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

std::string PoolgateProcess::log_text() const {
  std::ifstream in(log_file_, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::size_t PoolgateProcess::count_log_lines(const std::regex& pattern) const {
  std::istringstream log(log_text());
  std::size_t matches = 0;
  for (std::string line; std::getline(log, line);) {
    if (std::regex_search(line, pattern)) {
      ++matches;
    }
  }
  return matches;
}

bool PoolgateProcess::wait_for_log(const std::regex& pattern, std::chrono::milliseconds timeout) {
  bool exited = false;
  wait_until(
      [&] {
        exited = !running();  // checked first, so a line written just before exiting is still read
        return exited || count_log_lines(pattern) > 0;
      },
      timeout);
  return count_log_lines(pattern) > 0;
}

std::optional<std::uint16_t> PoolgateProcess::port_from_log(const std::regex& line_with_port,
                                                            std::chrono::milliseconds timeout) {
  if (!wait_for_log(line_with_port, timeout)) {
    return std::nullopt;
  }
  const std::string log = log_text();
  std::smatch match;
  std::regex_search(log, match, line_with_port);
  return static_cast<std::uint16_t>(std::stoul(match[1].str()));
}

std::optional<std::uint16_t> PoolgateProcess::listen_port(std::chrono::milliseconds timeout) {
  return port_from_log(std::regex{R"(listening on (?:127\.0\.0\.1|\[::\]):([0-9]+))"}, timeout);
}

std::optional<std::uint16_t> PoolgateProcess::admin_port(std::chrono::milliseconds timeout) {
  return port_from_log(std::regex{R"(admin listening on (?:127\.0\.0\.1|\[::1?\]|0\.0\.0\.0):([0-9]+))"}, timeout);
}

void PoolgateProcess::send_signal(int signal_number) {
  if (!exit_status_ && ::kill(pid_, signal_number) != 0) {
    throw std::system_error(errno, std::generic_category(), "kill");
  }
}

bool PoolgateProcess::try_reap() {
  if (exit_status_) {
    return true;
  }
  int status = 0;
  const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
  if (reaped != pid_) {
    return false;
  }
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return true;
}

bool PoolgateProcess::running() { return !try_reap(); }

std::optional<int> PoolgateProcess::wait_exit(std::chrono::milliseconds timeout) {
  wait_until([this] { return try_reap(); }, timeout);
  return exit_status_;
}

std::optional<int> PoolgateProcess::stop(std::chrono::milliseconds timeout) {
  if (running()) {
    send_signal(SIGTERM);
  }
  return wait_exit(timeout);
}

bool crashed_or_sanitizer_report(int exit_status) {
  constexpr int kThreadSanitizerExitStatus = 66;
  if (exit_status == kThreadSanitizerExitStatus) {
    return true;
  }
  for (const int signal_number : {SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE}) {
    if (exit_status == 128 + signal_number) {
      return true;
    }
  }
  return false;
}

std::string regex_escape(std::string_view text) {
  static const std::string_view special = R"(\^$.|?*+()[]{})";
  std::string escaped;
  for (const char c : text) {
    if (special.find(c) != std::string_view::npos) {
      escaped += '\\';
    }
    escaped += c;
  }
  return escaped;
}

}  // namespace poolgate::test

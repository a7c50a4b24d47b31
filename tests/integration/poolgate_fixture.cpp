#include "poolgate_fixture.hpp"

#include <csignal>

#include <algorithm>
#include <iostream>
#include <stdexcept>

namespace poolgate::test {
namespace {

// Adds `flag value` unless the test already chose a value for `flag`.
void add_default(Args& args, const std::string& flag, const std::string& value) {
  if (std::find(args.begin(), args.end(), flag) == args.end()) {
    args.push_back(flag);
    args.push_back(value);
  }
}

}  // namespace

std::string endpoints_json(const std::vector<std::string>& endpoints) {
  std::string list;
  for (const auto& endpoint : endpoints) {
    list += (list.empty() ? "\"" : ", \"") + endpoint + "\"";
  }
  return R"({"endpoints": [)" + list + "]}\n";
}

Args endpoint_args(const std::vector<const LoopbackServer*>& backends) {
  Args args;
  for (const auto* backend : backends) {
    args.push_back("--endpoint");
    args.push_back(backend->address());
  }
  return args;
}

Args operator+(Args args, const Args& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

void PoolgateTest::TearDown() {
  // Each poolgate still running is stopped as systemd stops it, so sanitizer builds check the drain too. A crash
  // or a sanitizer report (a data race in the TSan build) fails the test even if the test noticed nothing; a
  // poolgate still draining after the wait is left to the destructor's SIGKILL.
  for (const auto& process : processes_) {
    const std::optional<int> status = process->stop(10s);
    if (status && crashed_or_sanitizer_report(*status)) {
      ADD_FAILURE() << "poolgate (" << process->log_file().filename() << ") crashed or a sanitizer reported an error: "
                    << "exit status " << *status;
    }
  }
  if (!HasFailure()) {
    return;
  }
  for (const auto& process : processes_) {
    std::cerr << "----- poolgate log " << process->log_file().filename() << " -----\n"
              << process->log_text() << "----- end of log -----\n";
  }
}

PoolgateProcess& PoolgateTest::launch(const Args& args, const std::vector<std::string>& env) {
  Args full = args;
  add_default(full, "--listen", "127.0.0.1:0");
  // A kubeconfig that does not exist keeps Kubernetes discovery off.
  add_default(full, "--kubeconfig", (temp_dir_ / "no-such-kubeconfig").string());
  add_default(full, "--refresh-interval", "0");
  add_default(full, "--connect-timeout", "500ms");
  add_default(full, "--threads", "2");
  // Never the fixed default port: tests run in parallel.
  add_default(full, "--admin-listen", "127.0.0.1:0");
  const auto log_file = temp_dir_ / ("poolgate-" + std::to_string(processes_.size() + 1) + ".log");
  processes_.push_back(std::make_unique<PoolgateProcess>(POOLGATE_BINARY, full, log_file, env));
  return *processes_.back();
}

PoolgateProcess& PoolgateTest::start_proxy(const Args& args, const std::vector<std::string>& env) {
  PoolgateProcess& process = launch(args, env);
  // Sanitizer builds start slowly on a busy VM; a healthy start takes well under a second.
  const auto port = process.listen_port(15s);
  if (!port) {
    throw std::runtime_error("poolgate did not log its listening address");
  }
  proxy_port_ = *port;
  return process;
}

void PoolgateTest::while_stopped(const std::function<void()>& action) {
  proxy().send_signal(SIGSTOP);
  struct Resume {
    PoolgateProcess& process;
    ~Resume() {
      try {
        process.send_signal(SIGCONT);
      } catch (const std::exception&) {  // gone already: nothing left to resume
      }
    }
  } resume{proxy()};
  action();
}

PoolgateProcess& PoolgateTest::start_proxy_with_descriptor_limit(rlim_t limit, const Args& args) {
  rlimit original{};
  ::getrlimit(RLIMIT_NOFILE, &original);
  rlimit lowered = original;
  lowered.rlim_cur = limit;
  ::setrlimit(RLIMIT_NOFILE, &lowered);
  // The child inherits the lowered limit when it is started; this process gets its own back however that ends.
  struct Restore {
    rlimit limit;
    ~Restore() { ::setrlimit(RLIMIT_NOFILE, &limit); }
  } restore{original};
  return start_proxy(args);
}

std::optional<int> PoolgateTest::run_proxy_until_exit(const Args& args, std::chrono::milliseconds timeout) {
  return launch(args).wait_exit(timeout);
}

std::string PoolgateTest::tag_of_new_connection() const {
  auto client = Client::try_connect(proxy_port_);
  if (!client) {
    return "";
  }
  const auto line = client->recv_line();
  return line ? line->substr(0, line->size() - 1) : "";
}

bool PoolgateTest::new_connection_echoes(const std::string& payload) const {
  auto client = Client::try_connect(proxy_port_);
  return client && client->echo(payload) == payload;
}

void PoolgateTest::write_endpoints(const std::filesystem::path& path, const std::vector<std::string>& endpoints) {
  write_file_atomically(path, endpoints_json(endpoints));
}

}  // namespace poolgate::test

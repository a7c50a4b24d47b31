#include "support/proc_stats.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <system_error>

namespace poolgate::test {
namespace {

std::string proc_path(pid_t pid, const char* entry) { return "/proc/" + std::to_string(pid) + "/" + entry; }

long status_field_kib(pid_t pid, const std::string& field) {
  std::ifstream status(proc_path(pid, "status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// Entries of /proc/PID/fd whose link target `counts`.
template <class Predicate>
long count_descriptors(pid_t pid, Predicate counts) {
  std::error_code error;
  std::filesystem::directory_iterator entries(proc_path(pid, "fd"), error);
  if (error) return -1;
  long count = 0;
  for (auto it = entries; it != std::filesystem::directory_iterator(); it.increment(error)) {
    if (error) return -1;
    count += counts(it->path()) ? 1 : 0;
  }
  return count;
}

}  // namespace

long open_descriptors(pid_t pid) {
  return count_descriptors(pid, [](const std::filesystem::path&) { return true; });
}

long open_sockets(pid_t pid) {
  return count_descriptors(pid, [](const std::filesystem::path& entry) {
    std::error_code error;  // a descriptor closed since the listing is not a socket any more
    return std::filesystem::read_symlink(entry, error).native().rfind("socket:", 0) == 0;
  });
}

std::vector<pid_t> threads_named(pid_t pid, std::string_view prefix) {
  std::vector<pid_t> threads;
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator(proc_path(pid, "task"), error)) {
    std::string name;
    std::getline(std::ifstream(task.path() / "comm"), name);
    if (name.rfind(prefix, 0) == 0) threads.push_back(static_cast<pid_t>(std::stol(task.path().filename())));
  }
  return threads;
}

bool in_nanosleep(pid_t pid, pid_t tid) {
  std::ifstream syscall(proc_path(pid, "task") + "/" + std::to_string(tid) + "/syscall");
  long number = -1;
  syscall >> number;
  return number == SYS_clock_nanosleep || number == SYS_nanosleep;
}

long resident_kib(pid_t pid) { return status_field_kib(pid, "VmRSS"); }

long peak_resident_kib(pid_t pid) { return status_field_kib(pid, "VmHWM"); }

double cpu_seconds(pid_t pid) {
  std::ifstream stat(proc_path(pid, "stat"));
  const std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto name_end = text.rfind(')');
  if (name_end == std::string::npos) return -1;
  // Fields after the command name, which may itself hold spaces: state is field 3, utime 14, stime 15.
  std::istringstream fields(text.substr(name_end + 2));
  std::string field;
  unsigned long user_ticks = 0;
  unsigned long system_ticks = 0;
  for (int index = 3; fields >> field; ++index) {
    if (index == 14) user_ticks = std::stoul(field);
    if (index == 15) {
      system_ticks = std::stoul(field);
      break;
    }
  }
  return static_cast<double>(user_ticks + system_ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

ServerEnd server_end(std::uint16_t server_port, std::uint16_t client_port) {
  // Rows: "sl local_address rem_address st ...", addresses as hex IP:port, the state in hex (01 established,
  // 03 SYN_RECV: how a deferred connection's request is shown).
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // the header
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    const auto port_of = [](const std::string& address) {
      return static_cast<std::uint16_t>(std::stoul(address.substr(address.find(':') + 1), nullptr, 16));
    };
    if (local.find(':') == std::string::npos || remote.find(':') == std::string::npos) continue;
    if (port_of(local) != server_port || port_of(remote) != client_port) continue;
    return state == "03" ? ServerEnd::waiting : ServerEnd::established;
  }
  return ServerEnd::absent;
}

}  // namespace poolgate::test

// What /proc tells about a running process (poolgate, from the tests): open descriptors, resident memory and
// its peak, CPU time, threads by name and what they block in; and the kernel's view of a loopback connection.
// Each read is a fresh snapshot; -1 when the process is gone.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace poolgate::test {

// Entries of /proc/PID/fd.
long open_descriptors(pid_t pid);
// Those of them that are sockets (not pipes, files, epoll or timer descriptors).
long open_sockets(pid_t pid);

// Threads of `pid` whose name (/proc/PID/task/TID/comm) starts with `prefix`.
std::vector<pid_t> threads_named(pid_t pid, std::string_view prefix);
// Whether thread `tid` of `pid` is blocked in nanosleep() now (/proc/PID/task/TID/syscall names the system
// call a blocked thread is in).
bool in_nanosleep(pid_t pid, pid_t tid);

// VmRSS and VmHWM (the peak of VmRSS since the process started) from /proc/PID/status, in KiB.
long resident_kib(pid_t pid);
long peak_resident_kib(pid_t pid);

// How the kernel holds the server's end of the loopback IPv4 connection from `client_port` to `server_port`
// (/proc/net/tcp): established (or closing) once the handshake made a socket of it, waiting while a listener that
// defers accepts keeps it a request until the client's first bytes, absent if there is no such connection.
enum class ServerEnd { absent, waiting, established };
ServerEnd server_end(std::uint16_t server_port, std::uint16_t client_port);

// CPU seconds (user + system) the process has used so far, from /proc/PID/stat.
double cpu_seconds(pid_t pid);

}  // namespace poolgate::test

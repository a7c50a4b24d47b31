// What /proc tells about a running process (poolgate, from the tests): open descriptors, resident memory and
// its peak, CPU time. Each read is a fresh snapshot; -1 when the process is gone.
#pragma once

#include <sys/types.h>

namespace poolgate::test {

// Entries of /proc/PID/fd.
long open_descriptors(pid_t pid);
// Those of them that are sockets (not pipes, files, epoll or timer descriptors).
long open_sockets(pid_t pid);

// VmRSS and VmHWM (the peak of VmRSS since the process started) from /proc/PID/status, in KiB.
long resident_kib(pid_t pid);
long peak_resident_kib(pid_t pid);

// CPU seconds (user + system) the process has used so far, from /proc/PID/stat.
double cpu_seconds(pid_t pid);

}  // namespace poolgate::test

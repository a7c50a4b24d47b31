#include "poolgate/admin/systemd_notify.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <ctime>
#include <string>

namespace poolgate::admin {
namespace {

void notify(const std::string& state) {
  // unset_environment = 0: later notifications (reloads, stop) need NOTIFY_SOCKET too.
  const int result = ::sd_notify(0, state.c_str());
  if (result < 0) spdlog::debug("sd_notify failed: {}", result);
}

std::string monotonic_usec() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return std::to_string(static_cast<unsigned long long>(now.tv_sec) * 1000000ULL +
                        static_cast<unsigned long long>(now.tv_nsec) / 1000ULL);
}

}  // namespace

void notify_ready(std::string_view status) { notify("READY=1\nSTATUS=" + std::string(status)); }

// MONOTONIC_USEC lets Type=notify-reload units (systemd 253+) match the reload to its request.
void notify_reloading() { notify("RELOADING=1\nMONOTONIC_USEC=" + monotonic_usec() + "\nSTATUS=reloading endpoints"); }

void notify_stopping(std::string_view status) { notify("STOPPING=1\nSTATUS=" + std::string(status)); }

}  // namespace poolgate::admin

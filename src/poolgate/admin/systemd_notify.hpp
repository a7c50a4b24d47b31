// Readiness notifications to systemd (Type=notify): READY=1 once listening, RELOADING=1 ... READY=1 around a
// reload, STOPPING=1 when the drain starts. Without NOTIFY_SOCKET in the environment every call does nothing.
#pragma once

#include <string_view>

namespace poolgate::admin {

void notify_ready(std::string_view status);
void notify_reloading();
void notify_stopping(std::string_view status);

// RELOADING=1 at construction, READY=1 at destruction: wraps one reload.
class ReloadNotice {
 public:
  ReloadNotice() { notify_reloading(); }
  ~ReloadNotice() { notify_ready("reloaded"); }
  ReloadNotice(const ReloadNotice&) = delete;
  ReloadNotice& operator=(const ReloadNotice&) = delete;
};

}  // namespace poolgate::admin

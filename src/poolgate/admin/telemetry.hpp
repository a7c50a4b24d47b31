// Everything the admin endpoint reports, gathered without touching the data path: the workers' own counters
// (read with relaxed loads), the control counters, the current endpoint set, and the lifecycle flags that decide
// readiness. Rendered as Prometheus text exposition format 0.0.4 on the admin thread.
#pragma once

#include "poolgate/admin/counters.hpp"
#include "poolgate/admin/stats.hpp"
#include "poolgate/balance/backend.hpp"

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

namespace poolgate::admin {

struct Readiness {
  bool ready = false;
  std::string reason;  // why not ready ("draining", "no endpoint is up", ...); "ready" when ready
};

class Telemetry {
 public:
  explicit Telemetry(const ControlCounters& control) : control_(control) {}

  // Before the admin server starts (the list is fixed afterwards). The stats must outlive the admin server.
  void add_worker(const WorkerStats& stats) { workers_.push_back(&stats); }

  // Control thread: a new endpoint set was published.
  void set_backends(balance::BackendSetPtr set);
  // The client listeners are open and accepting (true), or closed for the drain (false).
  void set_listening(bool listening) { listening_.store(listening, std::memory_order_relaxed); }
  void set_draining() { draining_.store(true, std::memory_order_relaxed); }

  // Any thread (the admin thread).
  std::string render_metrics() const;
  Readiness readiness() const;

 private:
  balance::BackendSetPtr backends() const;

  const ControlCounters& control_;
  std::vector<const WorkerStats*> workers_;
  mutable std::mutex backends_mutex_;
  balance::BackendSetPtr backends_;
  std::atomic<bool> listening_{false};
  std::atomic<bool> draining_{false};
};

// `value` escaped for a label value in the text exposition format (backslash, double quote, newline).
std::string escape_label_value(std::string_view value);

}  // namespace poolgate::admin

#include "poolgate/http/deadline.hpp"

namespace poolgate::http {
namespace {

void wait_until_due(const std::shared_ptr<Deadline>& deadline) {
  const std::uint64_t generation = ++deadline->generation;
  deadline->waiting = true;
  deadline->timer.expires_at(deadline->due);  // cancels a wait still pending: its handler sees the generation
  deadline->timer.async_wait([deadline, generation](const boost::system::error_code& ec) {
    if (deadline->generation != generation) return;
    deadline->waiting = false;
    if (ec || deadline->watched == nullptr || deadline->due == Deadline::Clock::time_point::max()) return;
    if (Deadline::Clock::now() < deadline->due) {
      wait_until_due(deadline);  // moved later since this wait began
      return;
    }
    deadline->expired = true;
    boost::system::error_code ignored;
    deadline->watched->cancel(ignored);
  });
}

}  // namespace

void arm(const std::shared_ptr<Deadline>& deadline, config::Duration after) {
  deadline->expired = false;
  // A timeout too long to add to now (the options accept up to ~292 years) means never: `max` is "nothing due".
  const auto now = Deadline::Clock::now();
  deadline->due = after >= Deadline::Clock::time_point::max() - now ? Deadline::Clock::time_point::max() : now + after;
  if (deadline->waiting && deadline->timer.expiry() <= deadline->due) return;
  wait_until_due(deadline);
}

void disarm(Deadline& deadline) { deadline.due = Deadline::Clock::time_point::max(); }

void retire(Deadline& deadline) {
  deadline.watched = nullptr;
  deadline.due = Deadline::Clock::time_point::max();
  ++deadline.generation;
  deadline.waiting = false;
  deadline.timer.cancel();
}

}  // namespace poolgate::http
